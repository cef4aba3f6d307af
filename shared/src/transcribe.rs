//! Voice-note transcription through any OpenAI-compatible `/audio/transcriptions` (OpenAI,
//! speaches, LocalAI, whisper.cpp with `--inference-path`).
//!
//! Portable request: multipart `file` (streamed from disk, named `voice.<ext>` with its
//! content type — servers decide by extension and reject `.opus`, so Ogg/Opus is
//! `voice.ogg`), `model`, and `response_format=json` (LocalAI defaults to `verbose_json`);
//! only `.text` of the answer is read.

use std::path::Path;

use serde::Deserialize;

use crate::config::OpenAiCompatible;
use crate::external::{ExternalError, Service};
use crate::media::{essence, extension};

#[derive(Clone)]
pub struct Transcriber {
    http: reqwest::Client,
    config: OpenAiCompatible,
}

#[derive(Deserialize)]
struct Transcription {
    text: String,
}

impl Transcriber {
    pub fn new(http: reqwest::Client, config: OpenAiCompatible) -> Self {
        Transcriber { http, config }
    }

    /// The transcript of the audio file at `path` (trimmed; may be empty for silence).
    pub async fn transcribe(
        &self,
        path: &Path,
        content_type: &str,
    ) -> Result<String, ExternalError> {
        let io = |e: std::io::Error| ExternalError::Transient {
            service: Service::Transcribe,
            message: format!("reading the audio file: {e}"),
            retry_after: None,
            status: None,
        };
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let len = file.metadata().await.map_err(io)?.len();
        let mime = match essence(content_type).as_str() {
            "audio/opus" => "audio/ogg".to_string(),
            "" => "application/octet-stream".to_string(),
            other => other.to_string(),
        };
        let part = reqwest::multipart::Part::stream_with_length(file, len)
            .file_name(format!("voice.{}", extension(content_type)))
            .mime_str(&mime)
            .map_err(|e| ExternalError::from_reqwest(Service::Transcribe, e))?;
        let form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.config.model.clone())
            .text("response_format", "json");
        let mut req = self
            .http
            .post(format!("{}/audio/transcriptions", self.config.api_base))
            .multipart(form);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ExternalError::from_reqwest(Service::Transcribe, e))?;
        if !resp.status().is_success() {
            return Err(ExternalError::from_response(Service::Transcribe, resp).await);
        }
        let body: Transcription = resp.json().await.map_err(|e| ExternalError::Permanent {
            service: Service::Transcribe,
            status: 200,
            message: format!("unexpected response: {e}"),
        })?;
        Ok(body.text.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn transcriber(base: &str) -> Transcriber {
        Transcriber::new(
            reqwest::Client::new(),
            OpenAiCompatible {
                api_base: base.to_string(),
                api_key: Some("sk-test".into()),
                model: "whisper-1".into(),
            },
        )
    }

    #[tokio::test]
    async fn sends_ogg_named_multipart_and_reads_text() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/audio/transcriptions"))
            .and(header("authorization", "Bearer sk-test"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"text": " buy milk ", "usage": {"type": "duration", "seconds": 2}})))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"OggS\0fake-opus-bytes").unwrap();
        let t = transcriber(&format!("{}/v1", server.uri()));
        let text = t.transcribe(&p, "audio/ogg; codecs=opus").await.unwrap();
        assert_eq!(text, "buy milk");
        let req = &server.received_requests().await.unwrap()[0];
        let body = String::from_utf8_lossy(&req.body);
        assert!(
            body.contains(r#"name="file"; filename="voice.ogg""#),
            "{body}"
        );
        assert!(body.contains("Content-Type: audio/ogg"), "{body}");
        assert!(body.contains("OggS\0fake-opus-bytes"));
        assert!(body.contains(r#"name="response_format""#) && body.contains("\r\n\r\njson\r\n"));
        assert!(body.contains("\r\n\r\nwhisper-1\r\n"));
        assert!(!body.contains(".opus"));
    }

    #[tokio::test]
    async fn errors_are_classified() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(400).set_body_string("Unsupported file format"))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(503))
            .mount(&server)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        std::fs::write(&p, b"x").unwrap();
        let t = transcriber(&server.uri());
        assert!(
            !t.transcribe(&p, "audio/ogg")
                .await
                .unwrap_err()
                .is_transient()
        );
        assert!(
            t.transcribe(&p, "audio/ogg")
                .await
                .unwrap_err()
                .is_transient()
        );
    }
}

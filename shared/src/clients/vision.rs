//! A short description of a photo from an OpenAI-compatible vision chat model
//! (`LLM_API_BASE`/`LLM_API_KEY`/`LLM_MODEL`). The image goes inline as a base64 `data:` URL:
//! outside services cannot log in to Twilio's media URLs.

use serde_json::json;

use crate::clients::external::{ExternalError, Service};
use crate::clients::llm::completion;
use crate::config::OpenAiCompatible;

const PROMPT: &str = "Describe this photo in one short sentence (at most 25 words) so its owner \
can find it again later: what it shows, any readable text, and where it seems to be. \
No preamble.";

#[derive(Clone)]
pub struct Describer {
    http: reqwest::Client,
    config: OpenAiCompatible,
}

impl Describer {
    pub fn new(http: reqwest::Client, config: OpenAiCompatible) -> Self {
        Describer { http, config }
    }

    /// One sentence about the image; `caption` (the user's text, if any) is given as context.
    pub async fn describe(&self, data_url: &str, caption: &str) -> Result<String, ExternalError> {
        let mut text = PROMPT.to_string();
        if !caption.trim().is_empty() {
            text.push_str(&format!("\nThe sender's caption: {}", caption.trim()));
        }
        let body = json!({
            "model": self.config.model,
            "max_tokens": 100,
            "temperature": 0.2,
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": text},
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            }],
        });
        let req = self.http.post(format!("{}/chat/completions", self.config.api_base));
        let call = completion(req, &body, self.config.key());
        let description = crate::monitoring::observed(Service::Llm, call).await?;
        if description.is_empty() {
            return Err(ExternalError::Permanent {
                service: Service::Llm,
                status: 200,
                message: "no description in the response".into(),
            });
        }
        Ok(description)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    #[tokio::test]
    async fn sends_the_image_inline_and_reads_the_answer() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "choices": [{"message": {"role": "assistant", "content": " A red bicycle by a canal. "}}]
            })))
            .mount(&server)
            .await;
        let d = Describer::new(
            reqwest::Client::new(),
            OpenAiCompatible {
                api_base: format!("{}/v1", server.uri()),
                api_key: None,
                model: "gpt-4o-mini".into(),
            },
        );
        crate::monitoring::handle();
        let out = d.describe("data:image/jpeg;base64,AAAA", "my bike").await.unwrap();
        assert_eq!(out, "A red bicycle by a canal.");
        let metrics = crate::monitoring::render();
        assert!(
            metrics.contains("mnemo_external_request_duration_seconds_count{service=\"llm\"}"),
            "{metrics}"
        );
        let req: Value = server.received_requests().await.unwrap()[0].body_json().unwrap();
        assert_eq!(
            req.pointer("/messages/0/content/1/image_url/url").and_then(Value::as_str),
            Some("data:image/jpeg;base64,AAAA")
        );
        assert!(
            req.pointer("/messages/0/content/0/text")
                .and_then(Value::as_str)
                .unwrap()
                .contains("my bike")
        );
    }
}

//! An optional OpenAI-compatible chat model (`LLM_API_BASE`), used for two small jobs: settling
//! the intents the rules are unsure about, and leading an answer with one sentence synthesised
//! from the matches. Both have a short timeout and a deterministic fallback (the rules' intent;
//! the matches alone), so the model can only improve a reply, never delay or break it.

use std::time::Duration;

use reqwest::header::ACCEPT;
use serde_json::{Value, json};

use crate::clients::external::{ExternalError, Service};
use crate::config::{ExposeSecret, OpenAiCompatible, SecretString};
use crate::domain::conversation::Intent;

/// How long a reply may wait for the model.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6);

const INTENT_PROMPT: &str = "You classify one WhatsApp message sent to a personal memory assistant. \
Reply with exactly one word: QUESTION if the sender asks to recall or find something they saved earlier, \
REMINDER if they ask to be reminded of something later, MEMORY if they are telling the assistant something to keep.";

const ANSWER_PROMPT: &str = "You answer a person's question using only their saved memories, which are numbered. \
Reply with ONE short sentence in the second person, citing the memories you used as [1], [2]. \
If the memories do not answer the question, reply exactly NONE.";

/// One OpenAI-compatible chat completion: `body` posted to `req` (`{base}/chat/completions`),
/// with `api_key` as bearer token when there is one; the first choice's text, trimmed. The one
/// reader for [`LlmClient`] and the photo describer.
pub(crate) async fn completion(
    req: reqwest::RequestBuilder,
    body: &Value,
    api_key: Option<&str>,
) -> Result<String, ExternalError> {
    let req = req.header(ACCEPT, "application/json").json(body);
    let resp = ExternalError::send_authed(Service::Llm, req, api_key).await?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|e| ExternalError::from_reqwest(Service::Llm, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| ExternalError::Permanent {
        service: Service::Llm,
        status,
        message: format!("unreadable response: {e}"),
    })?;
    value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string())
        .ok_or_else(|| ExternalError::Permanent {
            service: Service::Llm,
            status,
            message: "no choices[0].message.content in the response".into(),
        })
}

#[derive(Clone, Debug)]
pub struct LlmClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<SecretString>,
    model: String,
    timeout: Duration,
}

impl LlmClient {
    pub fn new(cfg: &OpenAiCompatible, http: reqwest::Client) -> Self {
        LlmClient {
            http,
            base: cfg.api_base.trim_end_matches('/').to_string(),
            api_key: cfg.api_key.clone(),
            model: cfg.model.clone(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// One `POST {base}/chat/completions` turn; returns the first choice's text.
    pub async fn chat(
        &self,
        system: &str,
        user: &str,
        max_tokens: u32,
    ) -> Result<String, ExternalError> {
        let body = json!({
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "temperature": 0,
            "max_tokens": max_tokens,
        });
        let req = self.http.post(format!("{}/chat/completions", self.base)).timeout(self.timeout);
        crate::monitoring::observed(
            Service::Llm,
            completion(req, &body, self.api_key.as_ref().map(ExposeSecret::expose_secret)),
        )
        .await
    }

    /// The model's intent for a message the rules were unsure about; the rules' answer on any
    /// error, timeout or unreadable reply. Commands never get here.
    pub async fn settle_intent(&self, text: &str, rules: Intent) -> Intent {
        match self.chat(INTENT_PROMPT, text, 5).await {
            Ok(answer) => match parse_intent(&answer) {
                Some(intent) => intent,
                None => {
                    tracing::debug!(%answer, "unreadable intent from the model; keeping the rules' answer");
                    rules
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "intent model unavailable; keeping the rules' answer");
                rules
            }
        }
    }

    /// One sentence answering `question` from the numbered `matches` ("\[1\] 📝 note · Tue…: text"),
    /// or None when the model has no answer or is unavailable.
    pub async fn answer(&self, question: &str, matches: &[String]) -> Option<String> {
        let prompt = format!("Question: {question}\n\nMemories:\n{}", matches.join("\n"));
        match self.chat(ANSWER_PROMPT, &prompt, 120).await {
            Ok(s) => {
                let line = s.split_whitespace().collect::<Vec<_>>().join(" ");
                let plain = line.trim_matches(|c: char| !c.is_alphanumeric());
                if plain.is_empty() || plain.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(crate::domain::replies::clip(&line, 400))
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "answer model unavailable; sending the matches alone");
                None
            }
        }
    }
}

fn parse_intent(answer: &str) -> Option<Intent> {
    let word =
        answer.split(|c: char| !c.is_alphabetic()).find(|w| !w.is_empty())?.to_ascii_uppercase();
    match word.as_str() {
        "QUESTION" => Some(Intent::Question),
        "REMINDER" => Some(Intent::Reminder),
        "MEMORY" | "NOTE" => Some(Intent::Memory),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wiremock::matchers::{body_partial_json, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn client(server: &MockServer) -> LlmClient {
        LlmClient::new(
            &OpenAiCompatible {
                api_base: format!("{}/v1", server.uri()),
                api_key: Some("sk-test".into()),
                model: "tiny".into(),
            },
            reqwest::Client::new(),
        )
        .with_timeout(Duration::from_millis(300))
    }

    fn completion(content: &str) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        }))
    }

    /// Answers the next POST with `response`; later ones go to the mocks mounted after it.
    async fn answer_one(server: &MockServer, response: ResponseTemplate) {
        Mock::given(method("POST")).respond_with(response).up_to_n_times(1).mount(server).await;
    }

    /// Answers every POST that the mocks mounted before it leave.
    async fn answer_rest(server: &MockServer, response: ResponseTemplate) {
        Mock::given(method("POST")).respond_with(response).mount(server).await;
    }

    #[tokio::test]
    async fn settles_an_intent_with_a_chat_completion() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("authorization", "Bearer sk-test"))
            .and(body_partial_json(json!({
                "model": "tiny",
                "temperature": 0,
                "messages": [{"role": "system"}, {"role": "user", "content": "when I was a kid"}],
            })))
            .respond_with(completion("question."))
            .expect(1)
            .mount(&server)
            .await;
        let got = client(&server).settle_intent("when I was a kid", Intent::Memory).await;
        assert_eq!(got, Intent::Question);
    }

    #[tokio::test]
    async fn any_failure_keeps_the_rules_answer() {
        let server = MockServer::start().await;
        answer_one(&server, completion("QUESTION").set_delay(Duration::from_secs(2))).await;
        answer_one(&server, ResponseTemplate::new(500)).await;
        answer_rest(&server, completion("I think it is probably a note")).await;
        let c = client(&server);
        let started = std::time::Instant::now();
        // Timeout
        assert_eq!(c.settle_intent("x", Intent::Memory).await, Intent::Memory);
        assert!(started.elapsed() < Duration::from_secs(2));
        // 500
        assert_eq!(c.settle_intent("x", Intent::Memory).await, Intent::Memory);
        // Unreadable
        assert_eq!(c.settle_intent("x", Intent::Question).await, Intent::Question);
    }

    #[tokio::test]
    async fn answer_is_one_sentence_or_none() {
        let server = MockServer::start().await;
        answer_one(&server, completion("You planned pasta\nwith Anna [1].")).await;
        answer_rest(&server, completion("NONE")).await;
        let c = client(&server);
        let matches = vec!["[1] 📝 note · Tue 12 Nov, 09:14: pasta with Anna".to_string()];
        assert_eq!(
            c.answer("what's for dinner?", &matches).await.as_deref(),
            Some("You planned pasta with Anna [1].")
        );
        assert_eq!(c.answer("who is Tom?", &matches).await, None);
        let sent: Value =
            serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
        assert!(sent["messages"][1]["content"].as_str().unwrap().contains("pasta with Anna"));
    }

    #[test]
    fn intent_words() {
        assert_eq!(parse_intent("MEMORY"), Some(Intent::Memory));
        assert_eq!(parse_intent(" reminder"), Some(Intent::Reminder));
        assert_eq!(parse_intent("Question."), Some(Intent::Question));
        assert_eq!(parse_intent("maybe"), None);
        assert_eq!(parse_intent(""), None);
    }
}

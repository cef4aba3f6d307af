//! Property tests over the REST JSON bodies (issue 14, DESIGN §7): the parsers of the bodies
//! of `POST /memories`, `POST /reminders` and the console's `POST /console/api/send` never
//! panic, and give either a parsed body or a typed client error (4xx problem; 503 for a console
//! send that parsed and then could not reach `/webhook`), never a 500.
//!
//! Inputs are arbitrary bytes, arbitrary JSON documents, and, mostly, structurally near-valid
//! bodies: each field present with a good value, a wrong-typed or odd value (huge numbers,
//! Unicode, control characters, invalid base64, `data:` URLs), or missing, plus unknown fields;
//! the serialised text is then sometimes cut, spliced or has a byte changed. The parsers are
//! called in-process as poem calls them (`ParsePayload::from_request`, the console's handler),
//! 50,000 inputs each per `cargo test` (`PROPTEST_CASES` overrides it), so CI's two passes give
//! 100,000 per parser.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mnemo_ingress::api::memory_body::MemoryBody;
use mnemo_ingress::api::reminders::NewReminderIn;
use mnemo_ingress::api::small_json::SmallJson;
use poem::http::StatusCode;
use poem::{Endpoint, Request};
use poem_openapi::payload::ParsePayload;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use serde_json::{Map, Value, json};

use crate::harness::{Options, TestApp};

/// Generated inputs per parser and `cargo test` (`PROPTEST_CASES` overrides it).
const CASES: u32 = 50_000;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(CASES);
    Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// An app without a worker or Twilio: only its state (settings, media staging) is used.
fn app(rt: &tokio::runtime::Runtime) -> TestApp {
    rt.block_on(TestApp::spawn_with(Options { twilio: false, worker: false, ..Options::default() }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Strings a parser might trip on.
fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("\u{0}".to_string()),
        Just("\u{202e}evil".to_string()),
        Just("+".to_string()),
        Just("+1".to_string()),
        Just("+999999999999999999999".to_string()),
        Just("whatsapp:+14155550123".to_string()),
        Just("00000000-0000-0000-0000-000000000000".to_string()),
        Just("data:".to_string()),
        Just("data:,".to_string()),
        Just("data:image/png;base64,".to_string()),
        Just("data:image/png;base64,====".to_string()),
        Just("9999-99-99T99:99:99Z".to_string()),
        Just("+275760-09-13T00:00:00Z".to_string()),
        Just("x".repeat(5000)),
        "\\PC{0,40}".prop_map(String::from),
        ".{0,12}".prop_map(String::from),
    ]
}

/// Any JSON document, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        odd_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("\\PC{0,8}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A field: a good value (most often), anything at all, or missing.
fn field(good: BoxedStrategy<Value>) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => good.prop_map(Some),
        2 => any_json().prop_map(Some),
        2 => Just(None),
    ]
}

/// Small files WhatsApp carries (the magic bytes the type check looks at), and some that are not.
fn media_bytes() -> impl Strategy<Value = Vec<u8>> {
    let head = prop_oneof![
        Just(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
        Just(b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec()),
        Just(b"RIFF\0\0\0\0WEBPVP8 ".to_vec()),
        Just(b"GIF89a".to_vec()),
        Just(b"OggS\0\x02".to_vec()),
        Just(b"ID3\x04\0".to_vec()),
        Just(b"<svg onload=alert(1)>".to_vec()),
        Just(Vec::new()),
    ];
    (head, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(mut h, tail)| {
        h.extend(tail);
        h
    })
}

/// Base64 as a client might send it: plain, unpadded, wrapped, a `data:` URL, or broken.
fn base64_text() -> impl Strategy<Value = String> {
    let content_type = prop_oneof![
        Just("image/png"),
        Just("image/jpeg"),
        Just("audio/ogg"),
        Just("text/html"),
        Just(""),
    ];
    (media_bytes(), content_type, 0..6u8).prop_map(|(bytes, ct, how)| {
        let b64 = STANDARD.encode(&bytes);
        match how {
            0 | 1 => b64,
            2 => b64.trim_end_matches('=').to_string(),
            3 => b64
                .as_bytes()
                .chunks(7)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n "),
            4 => format!("data:{ct};base64,{b64}"),
            _ => format!("{b64}!*%"),
        }
    })
}

fn good_user() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!("+14155550123")),
        Just(json!("14155550123")),
        Just(json!("0190b6b2-0000-7000-8000-000000000000")),
        odd_string().prop_map(Value::from),
    ]
    .boxed()
}

fn good_time() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!("2026-12-03T10:00:00Z")),
        Just(json!("2999-01-01T00:00:00+14:00")),
        Just(json!("1970-01-01T00:00:00Z")),
        (0i64..4_000_000_000)
            .prop_map(|s| { json!(chrono::DateTime::from_timestamp(s, 0).unwrap().to_rfc3339()) }),
    ]
    .boxed()
}

/// An object from optional fields, with an unknown field now and then.
fn object(fields: Vec<(&'static str, Option<Value>)>, extra: Option<Value>) -> Value {
    let mut map = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(k.to_string(), v);
        }
    }
    if let Some(v) = extra {
        map.insert("unexpected".into(), v);
    }
    Value::Object(map)
}

/// The body bytes: the document as it is (most often), or cut, spliced or with one byte
/// changed; or arbitrary bytes.
fn body_from(doc: impl Strategy<Value = Value> + 'static) -> impl Strategy<Value = Vec<u8>> {
    let text = doc.prop_map(|v| serde_json::to_vec(&v).unwrap()).boxed();
    prop_oneof![
        6 => text.clone(),
        1 => (text.clone(), any::<prop::sample::Index>())
            .prop_map(|(t, i)| t[..i.index(t.len() + 1)].to_vec()),
        1 => (text.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(mut t, i, b)| {
            if !t.is_empty() {
                let at = i.index(t.len());
                t[at] = b;
            }
            t
        }),
        1 => (text, any::<prop::sample::Index>(), prop::sample::select(vec![
            &b"{"[..], b"}", b"\"", b",", b":", b"\\", b"\\u", b"\\ud800", b"null", b"1e999999",
            b"-0", b"[[[[[[[[[[[[", b"\xff\xfe",
        ])).prop_map(|(t, i, s)| {
            let at = i.index(t.len() + 1);
            let mut out = t[..at].to_vec();
            out.extend_from_slice(s);
            out.extend_from_slice(&t[at..]);
            out
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn memory_doc() -> impl Strategy<Value = Value> {
    let kind = prop_oneof![
        Just(json!("text")),
        Just(json!("image")),
        Just(json!("audio")),
        Just(json!("video")),
        Just(json!("Text")),
    ]
    .boxed();
    let text = prop_oneof![odd_string().prop_map(Value::from), Just(Value::Null)].boxed();
    let media_url = prop_oneof![
        Just(json!("https://example.com/a.jpg")),
        Just(json!("http://127.0.0.1/x")),
        Just(json!("ftp://example.com/a")),
        base64_text().prop_map(|b| json!(format!("data:image/png;base64,{b}"))),
        odd_string().prop_map(Value::from),
    ]
    .boxed();
    let content_type = prop_oneof![
        Just(json!("image/png")),
        Just(json!("image/jpeg")),
        Just(json!("audio/ogg")),
        Just(json!("audio/ogg; codecs=opus")),
        Just(json!("text/html")),
        odd_string().prop_map(Value::from),
    ]
    .boxed();
    let labels = prop_oneof![
        prop::collection::vec(odd_string(), 0..4).prop_map(|v| json!(v)),
        prop::collection::vec("[a-z]{1,8}", 0..25).prop_map(|v| json!(v)),
    ]
    .boxed();
    (
        (field(good_user()), field(kind), field(text), field(media_url)),
        (
            field(base64_text().prop_map(Value::from).boxed()),
            field(content_type),
            field(labels),
            field(good_time()),
        ),
        prop::option::weighted(0.1, any_json()),
    )
        .prop_map(|((user, kind, text, url), (b64, ct, labels, at), extra)| {
            object(
                vec![
                    ("user", user),
                    ("kind", kind),
                    ("text", text),
                    ("media_url", url),
                    ("media_base64", b64),
                    ("content_type", ct),
                    ("labels", labels),
                    ("occurred_at", at),
                ],
                extra,
            )
        })
}

fn reminder_doc() -> impl Strategy<Value = Value> {
    let text = prop_oneof![
        Just(json!("call mom")),
        "\\PC{0,1200}".prop_map(Value::from),
        odd_string().prop_map(Value::from),
    ]
    .boxed();
    let when = prop_oneof![
        Just(json!("tomorrow at 3pm")),
        Just(json!("every Monday at 9am")),
        Just(json!("in 4000000000 hours")),
        odd_string().prop_map(Value::from),
    ]
    .boxed();
    (
        field(good_user()),
        field(text),
        field(when),
        field(good_time()),
        prop::option::weighted(0.1, any_json()),
    )
        .prop_map(|(user, text, when, due, extra)| {
            object(vec![("user", user), ("text", text), ("when", when), ("due_at", due)], extra)
        })
}

fn console_doc() -> impl Strategy<Value = Value> {
    let phone = prop_oneof![
        Just(json!("+14155550101")),
        Just(json!("+44 20 7946 0958")),
        odd_string().prop_map(Value::from),
    ]
    .boxed();
    let text = odd_string().prop_map(Value::from).boxed();
    let file = (
        field(
            prop_oneof![
                Just(json!("image/png")),
                Just(json!("image/jpeg")),
                Just(json!("audio/ogg")),
                Just(json!("text/html")),
                Just(json!("IMAGE/PNG")),
                odd_string().prop_map(Value::from),
            ]
            .boxed(),
        ),
        field(base64_text().prop_map(Value::from).boxed()),
    )
        .prop_map(|(ct, data)| object(vec![("content_type", ct), ("data", data)], None))
        .boxed();
    let name = odd_string().prop_map(Value::from).boxed();
    (field(phone), field(text), field(file), field(name), prop::option::weighted(0.1, any_json()))
        .prop_map(|(phone, text, file, name, extra)| {
            object(
                vec![("phone", phone), ("text", text), ("file", file), ("profile_name", name)],
                extra,
            )
        })
}

fn post(path: &str, body: Vec<u8>) -> Request {
    Request::builder()
        .method(poem::http::Method::POST)
        .uri(path.parse().unwrap())
        .header("content-type", "application/json")
        .header("content-length", body.len().to_string())
        .body(body)
}

/// Statuses a body parser may answer with: a typed client error.
fn client_error(status: StatusCode) -> bool {
    [
        StatusCode::BAD_REQUEST,
        StatusCode::PAYLOAD_TOO_LARGE,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        StatusCode::UNPROCESSABLE_ENTITY,
    ]
    .contains(&status)
}

/// Runs `test` over `CASES` bodies and prints the count and the time taken.
fn run(
    name: &str,
    strategy: impl Strategy<Value = Vec<u8>>,
    test: impl Fn(Vec<u8>) -> Result<(), TestCaseError>,
) {
    let config = config();
    let cases = config.cases;
    let started = Instant::now();
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{name}: {e}");
    }
    println!("{name}: {cases} bodies in {:?}", started.elapsed());
}

/// `POST /memories`: the body is read under its cap, deserialised in place and any base64
/// decoded into a staging file; a parsed body has a fingerprint and, for an upload, a file of
/// the stated size and hash.
#[test]
fn memory_bodies_parse_or_are_refused() {
    let rt = runtime();
    let app = app(&rt);
    let state = app.state.clone();
    run("POST /memories", body_from(memory_doc()), |body| {
        let mut req = post("/memories", body);
        req.extensions_mut().insert(state.clone());
        let (req, mut body) = req.split();
        match rt.block_on(MemoryBody::from_request(&req, &mut body)) {
            Ok(parsed) => {
                prop_assert!(!parsed.fingerprint.is_empty());
                if let Some(up) = &parsed.upload {
                    prop_assert!(up.size > 0);
                    prop_assert_eq!(up.sha256.len(), 64);
                    prop_assert_eq!(up.file.as_file().metadata().unwrap().len(), up.size);
                    prop_assert!(mnemo_shared::media::types::accepted(&up.content_type).is_some());
                }
            }
            Err(e) => prop_assert!(client_error(e.status()), "{}: {e}", e.status()),
        }
        Ok(())
    });
    rt.block_on(async move { drop(app) });
}

/// `POST /reminders`: the small JSON body is read under 16 KiB and parsed into its type.
#[test]
fn reminder_bodies_parse_or_are_refused() {
    let rt = runtime();
    run("POST /reminders", body_from(reminder_doc()), |body| {
        let (req, mut body) = post("/reminders", body).split();
        match rt.block_on(SmallJson::<NewReminderIn>::from_request(&req, &mut body)) {
            Ok(parsed) => {
                prop_assert!(parsed.text.len() <= mnemo_ingress::api::small_json::SMALL_JSON_BYTES);
            }
            Err(e) => prop_assert!(client_error(e.status()), "{}: {e}", e.status()),
        }
        Ok(())
    });
}

/// The console's send: the whole handler. A body that parses and passes its checks goes on to
/// `/webhook`, which here is a closed port, so it ends in 503; anything else is a client error.
#[test]
fn console_send_bodies_parse_or_are_refused() {
    let rt = runtime();
    let app = app(&rt);
    let mut state = app.state.clone();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = (*state.settings).clone();
    settings.bind_addr = closed.local_addr().unwrap();
    drop(closed);
    state.settings = std::sync::Arc::new(settings);
    let endpoint = poem::EndpointExt::data(mnemo_ingress::console::chat::send, state);
    let forwarded = std::cell::Cell::new(0u32);
    run("POST /console/api/send", body_from(console_doc()), |body| {
        let req = post("/console/api/send", body);
        let res = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), endpoint.get_response(req)).await
        });
        let res = res.expect("the console's send answered within 10 s");
        let status = res.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            forwarded.set(forwarded.get() + 1);
        } else {
            prop_assert!(client_error(status), "{status}");
        }
        Ok(())
    });
    let forwarded = forwarded.get();
    println!("console send: {forwarded} bodies passed the checks (503 from the closed /webhook)");
    assert!(forwarded > 0, "no generated body passed the console's checks");
    rt.block_on(async move { drop(app) });
}

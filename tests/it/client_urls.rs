//! Secrets in endpoint URLs (issue 15.11): user info and secret-like query values are never
//! shown (validation output, errors, report files), a base URL's query is kept and the chat
//! path goes before it (Azure's `?api-version=`), and `auth_header` sends the key under the
//! endpoint's own header name.

use std::path::{Path, PathBuf};

use reactbench::client::{ApiKey, ClientConfig, LlmClient};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::client::request;
use crate::support::{all_text, bench};

const SECRET: &str = "SECRETVALUE123";

fn scenario(dir: &Path, base_url: &str) -> PathBuf {
    let text = format!(
        r#"
name = "urls"
seed = 1
conversations_per_user = 1
grace = "5s"
[limits]
spend_cap_usd = 1.0
[endpoint]
kind = "http"
base_url = "{base_url}"
timeout = "2s"
auth_header = "api-key"
[load]
users = 1
[agent]
model = "gpt-4.1"
max_tokens = 256
retry = {{ max_retries = 0 }}
[[workload]]
prompts = ["What is 2 + 2?"]
"#
    );
    let path = dir.join("urls.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn validate_shows_a_base_url_with_its_secret_query_values_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:9/v1?api-version=2024-10-21&api-key={SECRET}");
    let o = bench(&["validate", scenario(tmp.path(), &url).to_str().unwrap()]);
    let text = all_text(&o);
    assert!(o.status.success(), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("http://127.0.0.1:9/v1?api-version=2024-10-21&api-key=***"),
        "{text}"
    );
}

#[test]
fn a_refused_url_with_a_password_does_not_print_the_password() {
    let tmp = tempfile::tempdir().unwrap();
    let path = scenario(tmp.path(), "http://127.0.0.1:9/v1");
    let bad = format!("http://user:{SECRET}@127.0.0.1:9/v1");
    let out = tmp.path().join("out");
    let o = bench(&[
        "run",
        path.to_str().unwrap(),
        "--endpoint-url",
        &bad,
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let text = all_text(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("--endpoint-url"), "{text}");
}

/// A run against a closed port: every call fails, the report is written, and no file of it
/// (report_inputs.json included) holds the secret.
#[test]
fn no_report_file_holds_a_secret_of_the_base_url() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:9/v1?api-version=1&api-key={SECRET}");
    let out = tmp.path().join("out");
    let o = bench(&[
        "run",
        scenario(tmp.path(), &url).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    let text = all_text(&o);
    assert!(!text.contains(SECRET), "{text}");
    let mut files = 0;
    let mut stack = vec![out.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}: {text}")) {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let bytes = std::fs::read(&p).unwrap();
                let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
                assert!(!found, "{} holds the secret", p.display());
            }
        }
    }
    assert!(files > 3, "a report was written: {text}");
    let inputs = std::fs::read_to_string(out.join("report_inputs.json"))
        .or_else(|_| {
            // The run directory may be one level down.
            let sub = std::fs::read_dir(&out)?
                .filter_map(Result::ok)
                .map(|e| e.path().join("report_inputs.json"))
                .find(|p| p.exists())
                .ok_or(std::io::ErrorKind::NotFound)?;
            std::fs::read_to_string(sub)
        })
        .expect("report_inputs.json written");
    assert!(inputs.contains("api-key=***"), "{inputs}");
}

/// Azure OpenAI: `.../deployments/NAME?api-version=...` as the base URL, the key in `api-key`.
#[tokio::test]
async fn the_chat_path_goes_before_the_query_and_auth_header_names_the_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/gpt/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "choices": [{"message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1}
        })))
        .mount(&server)
        .await;
    let config = ClientConfig {
        base_url: format!(
            "{}/openai/deployments/gpt?api-version=2024-10-21",
            server.uri()
        ),
        auth_header: Some("api-key".into()),
        ..ClientConfig::default()
    };
    let client = LlmClient::with_key(&config, Some(ApiKey::new(SECRET))).unwrap();
    let reply = client
        .chat(&request("gpt-4.1", false))
        .await
        .expect("routed");
    assert_eq!(reply.content.as_deref(), Some("4"));
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.headers.get("api-key").unwrap(), SECRET);
    assert!(sent.headers.get("authorization").is_none());
    // The client shows its endpoint redacted, and never the key.
    assert!(!format!("{client:?}").contains(SECRET));

    // A key in the query is sent (the endpoint needs it) but never shown.
    let config = ClientConfig {
        base_url: format!("{}/v1?api-key={SECRET}", server.uri()),
        ..ClientConfig::default()
    };
    let client = LlmClient::with_key(&config, None).unwrap();
    assert!(!client.endpoint().contains(SECRET), "{}", client.endpoint());
    assert!(!format!("{client:?}").contains(SECRET));
}

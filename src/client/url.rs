//! Base URLs: where the chat path goes, which URLs the client takes, and how a URL is shown.
//!
//! A base URL may carry a query that the endpoint needs on every request (Azure OpenAI's
//! `?api-version=2024-10-21`), so `/chat/completions` is appended to its path, before the
//! query. A URL may also carry secrets (user info, `?api-key=...`, a signed `sig=`): every
//! place that shows or writes a URL (validation output, errors, `report_inputs.json`) shows
//! [`redact_url`]'s form instead.

/// Query keys whose values are secrets, lowercased; a key that ends with `key`, `token`,
/// `secret`, `password` or `signature` (`x-api-key`, `refresh_token`) is one too.
const SECRET_KEYS: &[&str] = &[
    "key",
    "api-key",
    "api_key",
    "apikey",
    "token",
    "access_token",
    "auth",
    "authorization",
    "sig",
    "signature",
    "secret",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "code",
    "credential",
    "credentials",
];

/// What a secret is shown as.
const HIDDEN: &str = "***";

fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
        || ["key", "token", "secret", "password", "signature"]
            .iter()
            .any(|end| k.ends_with(end))
}

/// `url` with its user info and the values of secret-like query parameters replaced by `***`
/// (`http://user:PASS@host/v1?api-key=S&api-version=1` becomes
/// `http://***@host/v1?api-key=***&api-version=1`). Works on any text, URL or not: what is not
/// a URL comes back with only its query redacted.
pub fn redact_url(url: &str) -> String {
    let (before_fragment, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let (base, query) = match before_fragment.find('?') {
        Some(i) => (&before_fragment[..i], Some(&before_fragment[i + 1..])),
        None => (before_fragment, None),
    };
    let mut out = String::with_capacity(url.len());
    // User info: between `scheme://` and the last `@` of the authority.
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    match base[authority_start..authority_end].rfind('@') {
        Some(at) => {
            out.push_str(&base[..authority_start]);
            out.push_str(HIDDEN);
            out.push_str(&base[authority_start + at..]);
        }
        None => out.push_str(base),
    }
    if let Some(q) = query {
        out.push('?');
        for (i, pair) in q.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k, _)) if is_secret_key(k) => {
                    out.push_str(k);
                    out.push('=');
                    out.push_str(HIDDEN);
                }
                _ => out.push_str(pair),
            }
        }
    }
    if !fragment.is_empty() {
        out.push('#');
        out.push_str(HIDDEN);
    }
    out
}

/// `{base_url}/chat/completions`, the path appended before the base URL's query (kept: Azure
/// needs `api-version`); a fragment is dropped (never sent). Not checked as a URL here.
pub fn chat_url(base_url: &str) -> String {
    let url = base_url.split('#').next().unwrap_or_default();
    let (path, query) = match url.find('?') {
        Some(i) => (&url[..i], Some(&url[i + 1..])),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len() + 20);
    out.push_str(path.trim_end_matches('/'));
    out.push_str("/chat/completions");
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// [`chat_url`] as a URI (the path appended before any query), if `base_url` is an `http` or
/// `https` URL with a host and no user info (what scenario validation accepts too).
pub fn chat_uri(base_url: &str) -> Option<http::Uri> {
    let uri: http::Uri = chat_url(base_url).parse().ok()?;
    let host = uri.host().is_some_and(|h| !h.is_empty());
    // `user:pass@` would be sent nowhere (or as a bare authority over HTTP/2): keys go in
    // `api_key_env`.
    let credentials = uri.authority().is_some_and(|a| a.as_str().contains('@'));
    (matches!(uri.scheme_str(), Some("http" | "https")) && host && !credentials).then_some(uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 15.11: passwords and secret query values never shown; other parameters kept.
    #[test]
    fn secrets_in_urls_are_redacted_and_the_rest_kept() {
        for (url, want) in [
            ("http://user:PASS@host:8080/v1", "http://***@host:8080/v1"),
            (
                "https://res.openai.azure.com/openai/deployments/d?api-version=2024-10-21&api-key=SECRET",
                "https://res.openai.azure.com/openai/deployments/d?api-version=2024-10-21&api-key=***",
            ),
            (
                "https://h/v1?API_KEY=S1&Token=S2&sig=S3&Signature=S4&x-api-key=S5&password=S6&key=S7&mode=fast",
                "https://h/v1?API_KEY=***&Token=***&sig=***&Signature=***&x-api-key=***&password=***&key=***&mode=fast",
            ),
            ("https://api.openai.com/v1", "https://api.openai.com/v1"),
            ("http://h/v1?flag", "http://h/v1?flag"),
            ("http://h/v1#frag-SECRET", "http://h/v1#***"),
            ("user:PASS@host", "***@host"),
            ("not a url ?token=S", "not a url ?token=***"),
            ("", ""),
        ] {
            let got = redact_url(url);
            assert_eq!(got, want, "{url}");
            for secret in ["PASS", "SECRET", "S1", "S5", "S7"] {
                assert!(!got.contains(secret), "{url} -> {got}");
            }
        }
    }

    #[test]
    fn the_chat_path_goes_before_the_query() {
        for (base, want) in [
            ("http://h/v1", "http://h/v1/chat/completions"),
            ("http://h/v1/", "http://h/v1/chat/completions"),
            (
                "https://r.openai.azure.com/openai/deployments/gpt?api-version=2024-10-21",
                "https://r.openai.azure.com/openai/deployments/gpt/chat/completions?api-version=2024-10-21",
            ),
            ("http://h/v1/?a=1#x", "http://h/v1/chat/completions?a=1"),
            ("http://h/v1?", "http://h/v1/chat/completions"),
        ] {
            assert_eq!(chat_url(base), want, "{base}");
        }
    }

    #[test]
    fn chat_uri_takes_http_and_https_urls_with_a_host() {
        for (base, want) in [
            (
                "http://127.0.0.1:8080/v1",
                Some("http://127.0.0.1:8080/v1/chat/completions"),
            ),
            (
                "https://api.openai.com/v1/",
                Some("https://api.openai.com/v1/chat/completions"),
            ),
            (
                "http://localhost:4000",
                Some("http://localhost:4000/chat/completions"),
            ),
            ("ftp://example.com/v1", None),
            ("api.openai.com/v1", None),
            ("http://", None),
            ("not a url", None),
            ("", None),
            ("https://user:secret@api.example.com/v1", None),
        ] {
            let got = chat_uri(base).map(|u| u.to_string());
            assert_eq!(got.as_deref(), want, "{base:?}");
        }
    }
}

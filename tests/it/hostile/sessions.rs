//! Django sessions that must never authenticate: every signed-cookie fixture that is not valid,
//! valid ones replayed after they expired, hand-forged values, and validly signed sessions
//! longer than `max_session_bytes` (the hostile app's is [`super::MAX_SESSION_BYTES`]).

use signgate_testkit::django::{session_of_len, SIGNED_COOKIES_SALT};
use signgate_testkit::tokens::now;

use super::{case, run, Corpus, Hostile, MAX_SESSION_BYTES};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("sessions", 27, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let fixtures = &h.fixtures;
    let mut cases = Vec::new();
    // Django sessions: every fixture that is not valid, and hand-forged values.
    for c in fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies" && c["expected"]["outcome"] != "valid")
    {
        let cookie = format!("sessionid={}", c["cookie_value"].as_str().unwrap());
        cases.push(case(
            format!("django {}", c["name"]),
            "/files/users/42/a.txt",
            &[("Cookie", cookie.as_bytes())],
            &[401],
        ));
    }
    // Valid Django cookies from 2025 are expired by now's clock.
    for c in fixtures["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["backend"] == "signed_cookies" && c["expected"]["outcome"] == "valid")
    {
        let cookie = format!("sessionid={}", c["cookie_value"].as_str().unwrap());
        cases.push(case(
            format!("django replayed {}", c["name"]),
            "/files/users/42/a.txt",
            &[("Cookie", cookie.as_bytes())],
            &[401],
        ));
    }
    for forged in [
        "x",
        ".",
        "::",
        "a:b:c",
        ".eJw:1uLhM8:AAAA",
        "e30:1uLhM8:",
        &"A".repeat(5000),
        "e30:zzzzzzzzzzzz:abc",
        ".%00:1:2",
    ] {
        cases.push(case(
            format!("django forged {:?}", &forged[..forged.len().min(20)]),
            "/files/users/42/a.txt",
            &[("Cookie", format!("sessionid={forged}").as_bytes())],
            &[401],
        ));
    }
    // Validly signed for user 42, and too long to be read.
    let secret = fixtures["secret_key"].as_str().unwrap().as_bytes();
    let mut secrets = Vec::new();
    for over in [1, 3, 4, 5001, 11_001] {
        let len = MAX_SESSION_BYTES + over;
        let value = session_of_len("42", len, SIGNED_COOKIES_SALT, secret, now());
        let signature = value.rsplit(':').next().unwrap().to_owned();
        secrets.push((format!("oversized session signature {len}"), signature));
        cases.push(case(
            format!("django oversized {len} bytes"),
            "/files/users/42/a.txt",
            &[("Cookie", format!("sessionid={value}").as_bytes())],
            &[401],
        ));
    }
    Corpus { cases, secrets }
}

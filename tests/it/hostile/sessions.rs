//! Django sessions that must never authenticate: every signed-cookie fixture that is not valid,
//! valid ones replayed after they expired, and hand-forged values.

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("sessions", 22, cases).await;
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
    Corpus {
        cases,
        ..Corpus::default()
    }
}

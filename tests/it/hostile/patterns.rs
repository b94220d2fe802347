//! Keys crafted to make rule matching expensive: hundreds of `_` against
//! `archive/*_*_*_*_*_*.pdf`, deep `a/a/a/...` keys against patterns with several `**`. Matching
//! never backtracks, so each is answered at once (a backtracking matcher blocks the worker, and
//! this test with it, for hours).

use super::{case, run, Corpus, Hostile};

#[tokio::test]
async fn the_hostile_corpus_never_gets_a_signature_or_a_secret_in_the_logs() {
    run("patterns", 8, cases).await;
}

fn cases(h: &Hostile) -> Corpus {
    let b = h.bearer.as_bytes();
    let mut cases = Vec::new();
    for n in [100, 400, 900] {
        let near_miss = format!("/files/archive/{}.pd", "_".repeat(n));
        cases.push(case(
            format!("{n} underscores, anonymous"),
            near_miss.clone(),
            &[],
            &[401],
        ));
        cases.push(case(
            format!("{n} underscores, signed in"),
            near_miss,
            &[("Authorization", b)],
            &[403],
        ));
    }
    let deep = format!("/files/{}b", "a/".repeat(400));
    cases.push(case("400 segments, anonymous", deep.clone(), &[], &[401]));
    cases.push(case(
        "400 segments, signed in",
        deep,
        &[("Authorization", b)],
        &[403],
    ));
    Corpus {
        cases,
        secrets: Vec::new(),
    }
}

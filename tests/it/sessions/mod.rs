//! Session cookies from real stores: Redis, Django's database backend (SQLite and Postgres) and
//! Django's signed cookies, with fixtures made by real Django (scripts/django-fixtures/).

mod bounded;
pub mod django;
mod redis;

use serde_json::{json, Value};
use signgate_testkit::app::TestApp;

pub fn rules() -> (&'static str, Value) {
    (
        "rules",
        json!([
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "staff/**", "access": "authenticated", "distribution": "demo", "require": [{"claim": "roles", "any_of": ["staff", "editors"]}]}
        ]),
    )
}

pub async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", cookie)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
}

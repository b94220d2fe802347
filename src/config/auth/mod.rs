//! `[auth]`: the authenticators in the order they are tried, and each one's settings. Secrets
//! are read here (file or environment; inline only in a dev setup) and never printed.

mod jwt;
mod sessions;

use std::path::Path;

use anyhow::{anyhow, bail};
use serde::Deserialize;

use super::sources::is_token_name;
use crate::authenticate::settings::{AuthSettings, MethodSettings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    #[serde(default)]
    token_cookie: String,
    #[serde(default)]
    order: Vec<Method>,
    #[serde(default)]
    jwt: jwt::RawJwt,
    redis_session: Option<sessions::RawRedisSession>,
    django_session: Option<sessions::RawDjangoSession>,
}

/// An entry of `auth.order`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Method {
    Jwt,
    RedisSession,
    DjangoSession,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Jwt => "jwt",
            Method::RedisSession => "redis_session",
            Method::DjangoSession => "django_session",
        }
    }
}

impl RawAuth {
    /// The authenticators `auth.order` lists, each checked; sections it does not list are not
    /// used (nor checked).
    pub(super) fn check(&self, base: &Path, dev: bool) -> anyhow::Result<AuthSettings> {
        let token_cookie = match self.token_cookie.as_str() {
            "" => None,
            name if is_token_name(name) => Some(name.to_owned()),
            name => bail!("auth.token_cookie: {name:?} is not a valid cookie name"),
        };
        let mut methods = Vec::new();
        for (i, method) in self.order.iter().enumerate() {
            if self.order[..i].contains(method) {
                bail!("auth.order: {:?} is listed twice", method.name());
            }
            methods.push(match method {
                Method::Jwt => MethodSettings::Jwt(self.jwt.check(base, dev)?),
                Method::RedisSession => {
                    let r = self.redis_session.as_ref().ok_or_else(|| anyhow!("auth.redis_session: \"redis_session\" is in auth.order but not configured"))?;
                    MethodSettings::RedisSession(r.check()?)
                }
                Method::DjangoSession => {
                    let d = self.django_session.as_ref().ok_or_else(|| anyhow!("auth.django_session: \"django_session\" is in auth.order but not configured"))?;
                    MethodSettings::DjangoSession(d.check(base, dev)?)
                }
            });
        }
        Ok(AuthSettings {
            token_cookie,
            methods,
        })
    }
}

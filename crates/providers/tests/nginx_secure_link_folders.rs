//! nginx secure_link folder credentials (HLS): the cookie form, the path form and the query form
//! signed by expression, read with the operator's location regex; configurations that cannot
//! be verified safely; properties of sign → verify for every form. (Longer than 300 lines: the
//! cases of five forms and the one property test over all of them.)

mod common;

use std::net::IpAddr;

use common::*;
use proptest::prelude::*;
use signgate_providers::nginx_secure_link::*;
use signgate_providers::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal};

const FOLDER: &str = r"^(?<sl_folder>/m/[^/]+/)";
const PATH: &str = r"^(?<sl_folder>/m/[^/]+/)(?<sl_hash>[\w-]+)/(?<sl_expires>\d+)/(?<sl_file>.*)$";
const PATH_ONE: &str = r"^(?<sl_folder>/m/[^/]+/)(?<sl_token>[\w-]+,\d+)/(?<sl_file>.*)$";
const PATH_KEY: &str = r"^(?<sl_folder>/m/[^/]+/)(?<sl_key>[\w-]+)/(?<sl_hash>[\w-]+)/(?<sl_expires>\d+)/(?<sl_file>.*)$";
const FOLDER_EXPIRES: &str = "$secure_link_expires$sl_folder $secret";
const FOLDER_EXPIRES_IP: &str = "$secure_link_expires$sl_folder$remote_addr $secret";

fn build(
    location: &str,
    source: &str,
    expression: &str,
    secret: &str,
    rotation: Option<(&str, &str)>,
) -> Result<SecureLink, Error> {
    let location = Location::parse(location)?;
    SecureLink::configure(Config {
        source: Source::parse(source)?,
        expression: Expression::parse_in(expression, &location)?,
        location: Some(location),
        secret: Secret::new(secret)?,
        rotation: rotation.map(|(selector, previous)| Rotation {
            selector: Var::parse(selector).unwrap(),
            name: "k2".into(),
            previous: Secret::new(previous).unwrap(),
        }),
    })
}

fn folder(location: &str, source: &str, expression: &str) -> SecureLink {
    build(location, source, expression, "s3cret", None).unwrap()
}

fn denial(
    link: &SecureLink,
    url: &str,
    cookies: &[(&str, &str)],
    ip: Option<IpAddr>,
    now: u64,
) -> Option<Denial> {
    match link.verify(&EdgeRequest {
        method: "GET",
        url,
        cookies,
        client_ip: ip,
        now,
    }) {
        Ok(_) => None,
        Err(Refusal::NginxSecureLink(d)) => Some(d),
        Err(other) => panic!("{other:?}"),
    }
}

fn nginx_err(r: Result<Credential, signgate_providers::Error>) -> Error {
    match r {
        Err(signgate_providers::Error::NginxSecureLink(e)) => e,
        other => panic!("{other:?}"),
    }
}

/// Hashes below were computed with `printf '%s' "<string>" | openssl md5 -binary | base64`,
/// made URL-safe and unpadded.
#[test]
fn cookie_form_signs_the_folder_as_nginx_reads_it() {
    let two = folder(FOLDER, "$cookie_slh,$cookie_sle", FOLDER_EXPIRES);
    let grant = Grant::until(2_000_000_000);
    // "2000000000/m/a b/ s3cret": the folder capture is decoded, as $uri is.
    let cookies = [("slh", "4OxSNYdV-qFm9fixpq24cA"), ("sle", "2000000000")];
    assert_eq!(
        two.sign_prefix("https://h/m/a%20b/", Delivery::Cookie, &grant)
            .unwrap(),
        Credential::Cookies(cookies.map(|(n, v)| (n.into(), v.into())).to_vec())
    );
    assert_eq!(
        denial(&two, "https://h/m/a%20b/v1/seg.ts", &cookies, None, 0),
        None
    );
    let upper = [("SLH", cookies[0].1), ("Sle", cookies[1].1)];
    assert_eq!(
        denial(&two, "https://h/m/a%20b/x.ts", &upper, None, 0),
        None
    );
    let sibling = "https://h/m/a%20bc/x.ts";
    assert_eq!(
        denial(&two, sibling, &cookies, None, 0),
        Some(Denial::BadHash)
    );
    assert_eq!(
        denial(&two, "https://h/other/a%20b/x.ts", &cookies, None, 0),
        Some(Denial::OutsideLocation)
    );
    assert_eq!(
        denial(&two, "https://h/m/a%20b/x.ts", &cookies[..1], None, 0),
        Some(Denial::MalformedExpiry)
    );
    assert_eq!(
        denial(&two, "https://h/m/a%20b/x.ts", &[], None, 0),
        Some(Denial::MissingHash)
    );

    // One cookie can carry both: nginx splits the value at its first comma.
    let one = folder(FOLDER, "$cookie_sl", FOLDER_EXPIRES);
    assert_eq!(
        one.sign_prefix("https://h/m/a%20b/", Delivery::Cookie, &grant)
            .unwrap(),
        Credential::Cookie {
            name: "sl".into(),
            value: "4OxSNYdV-qFm9fixpq24cA,2000000000".into()
        }
    );
}

#[test]
fn path_form_puts_hash_and_expiry_after_the_folder() {
    let path = folder(PATH, "$sl_hash,$sl_expires", FOLDER_EXPIRES_IP);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let grant = Grant {
        client_ip: Some(ip),
        ..Grant::until(2_000_000_000)
    };
    let entry = "https://h/m/a%20b/index.m3u8?v=1";
    // "2000000000/m/a b/192.0.2.7 s3cret"
    let signed = "https://h/m/a%20b/Ljs-rLtXQj2Athr9aeAwZA/2000000000/index.m3u8?v=1";
    assert_eq!(
        path.sign_prefix("https://h/m/a%20b/", Delivery::Path { url: entry }, &grant)
            .unwrap(),
        Credential::Url(signed.into())
    );
    // A playlist's relative segment URL inherits the segments.
    let segment = "https://h/m/a%20b/Ljs-rLtXQj2Athr9aeAwZA/2000000000/720p/seg.ts";
    assert_eq!(denial(&path, segment, &[], Some(ip), 0), None);
    let other_ip = "192.0.2.8".parse().ok();
    assert_eq!(
        denial(&path, segment, &[], other_ip, 0),
        Some(Denial::BadHash)
    );
    assert_eq!(
        denial(&path, segment, &[], Some(ip), 2_000_000_001),
        Some(Denial::Expired)
    );

    let one = folder(PATH_ONE, "$sl_token", FOLDER_EXPIRES_IP);
    assert_eq!(
        one.sign_prefix("https://h/m/a%20b/", Delivery::Path { url: entry }, &grant)
            .unwrap(),
        Credential::Url(
            "https://h/m/a%20b/Ljs-rLtXQj2Athr9aeAwZA,2000000000/index.m3u8?v=1".into()
        )
    );
}

#[test]
fn query_form_signs_a_folder_by_expression() {
    let query = folder(FOLDER, "$arg_md5,$arg_expires", FOLDER_EXPIRES);
    let entry = "https://h/m/%C3%A9/index.m3u8";
    // "2000000000/m/é/ s3cret", é as its two UTF-8 bytes.
    let signed = format!("{entry}?md5=8BDNug0W6vMq-GfN4ApSYw&expires=2000000000");
    assert_eq!(
        query
            .sign_prefix(
                "https://h/m/%C3%A9/",
                Delivery::Query { url: entry },
                &Grant::until(2_000_000_000)
            )
            .unwrap(),
        Credential::Url(signed.clone())
    );
    let (_, credential) = signed.split_once('?').unwrap();
    let other = format!("https://h/m/%c3%a9/v/seg.ts?{credential}");
    assert_eq!(denial(&query, &other, &[], None, 0), None);

    // $remote_addr as nginx prints IPv6.
    let media = build(
        r"^(?<sl_folder>/media/[^/]+/)",
        "$arg_md5,$arg_expires",
        FOLDER_EXPIRES_IP,
        "s3cret",
        None,
    )
    .unwrap();
    let grant = Grant {
        client_ip: "2001:db8:0:0::1".parse().ok(),
        ..Grant::until(2_000_000_000)
    };
    let Credential::Url(signed) = media
        .sign_prefix(
            "https://h/media/x/",
            Delivery::Query {
                url: "https://h/media/x/a",
            },
            &grant,
        )
        .unwrap()
    else {
        panic!()
    };
    assert!(
        signed.contains("md5=c2EQJcFMsKr3Wy9kbrm6GA&"),
        "\"2000000000/media/x/2001:db8::1 s3cret\": {signed}"
    );
}

#[test]
fn configurations_that_cannot_be_verified_safely_are_refused() {
    let refused = |location: &str, source: &str, expression: &str| {
        build(location, source, expression, "s", None).unwrap_err()
    };
    let cookies = "$cookie_h,$cookie_e";
    let uri = "$secure_link_expires$uri $secret";
    assert_eq!(
        refused(FOLDER, cookies, uri),
        Error::FolderNotSigned("cookie")
    );
    assert_eq!(
        refused(r"(?<sl_folder>/m/[^/]+/)", cookies, FOLDER_EXPIRES),
        Error::FolderNotSigned("cookie"),
        "a folder capture that can match mid-path binds nothing"
    );
    assert_eq!(
        refused(
            FOLDER,
            cookies,
            "$secure_link_expires$sl_folder$uri $secret"
        ),
        Error::NotAFolderExpression("$uri".into())
    );
    assert_eq!(
        refused(
            FOLDER,
            cookies,
            "$secure_link_expires$sl_folder$arg_x $secret"
        ),
        Error::NotAFolderExpression("$arg_*".into())
    );
    assert_eq!(
        refused(
            PATH,
            "$sl_hash,$sl_expires",
            "$secure_link_expires$sl_folder$sl_file $secret"
        ),
        Error::NotAFolderExpression("$sl_file".into())
    );
    assert_eq!(
        refused(FOLDER, "$sl_hash,$sl_expires", FOLDER_EXPIRES),
        Error::UnknownCapture("sl_hash".into())
    );
    assert_eq!(
        refused(FOLDER, cookies, "$nope$secret"),
        Error::UnknownVariable("nope".into())
    );
    assert!(matches!(
        refused(r"^(?<sl_folder>/m/(?!x)[^/]+/)", cookies, FOLDER_EXPIRES),
        Error::BadLocation(_)
    ));
    assert_eq!(
        build(FOLDER, cookies, FOLDER_EXPIRES, "s", Some(("$arg_sk", "p"))).unwrap_err(),
        Error::RotationSelector("cookie")
    );
    let bad_name = SecureLink::configure(Config {
        location: None,
        source: Source::parse("$arg_md5,$arg_expires").unwrap(),
        expression: Expression::parse(uri).unwrap(),
        secret: Secret::new("s").unwrap(),
        rotation: Some(Rotation {
            selector: Var::parse("$arg_sk").unwrap(),
            name: "a/b".into(),
            previous: Secret::new("p").unwrap(),
        }),
    });
    assert_eq!(bad_name.unwrap_err(), Error::BadKeyName("a/b".into()));
}

#[test]
fn credentials_the_regex_would_not_read_back_are_refused() {
    let grant = Grant::until(2_000_000_000);
    let cookie = folder(FOLDER, "$cookie_h,$cookie_e", FOLDER_EXPIRES);
    let err = |r| nginx_err(r);
    assert!(matches!(
        err(cookie.sign_prefix(
            "https://h/m/a/",
            Delivery::Path {
                url: "https://h/m/a/x"
            },
            &grant
        )),
        Error::DeliveryNotConfigured {
            configured: "cookie",
            asked: "path"
        }
    ));
    assert!(matches!(
        cookie.sign_url("https://h/m/a/x", &grant),
        Err(signgate_providers::Error::NginxSecureLink(
            Error::DeliveryNotConfigured { .. }
        ))
    ));
    assert_eq!(
        err(cookie.sign_prefix("https://h/m/a", Delivery::Cookie, &grant)),
        Error::FolderWithoutSlash("https://h/m/a".into())
    );
    // The regex takes one level below /m/: a deeper prefix is not what nginx would check.
    assert_eq!(
        err(cookie.sign_prefix("https://h/m/a/b/", Delivery::Cookie, &grant)),
        Error::LayoutMismatch("https://h/m/a/b/".into())
    );
    let digits_only = folder(
        r"^(?<sl_folder>/m/[^/]+/)(?<sl_hash>[0-9]+)/(?<sl_expires>\d+)/(?<sl_file>.*)$",
        "$sl_hash,$sl_expires",
        FOLDER_EXPIRES,
    );
    assert!(matches!(
        err(digits_only.sign_prefix(
            "https://h/m/a/",
            Delivery::Path {
                url: "https://h/m/a/x"
            },
            &grant
        )),
        Error::LayoutMismatch(_)
    ));
    let path = folder(PATH, "$sl_hash,$sl_expires", FOLDER_EXPIRES);
    assert!(matches!(
        err(path.sign_prefix(
            "https://h/m/a/",
            Delivery::Path {
                url: "https://h/m/b/x"
            },
            &grant
        )),
        Error::OutsidePrefix { .. }
    ));
    let query = folder(
        FOLDER,
        "$arg_md5,$arg_expires",
        "$secure_link_expires$uri $secret",
    );
    assert_eq!(
        err(query.sign_prefix(
            "https://h/m/a/",
            Delivery::Query {
                url: "https://h/m/a/x"
            },
            &grant
        )),
        Error::FolderNotSigned("query")
    );
    assert!(matches!(
        query.sign_url("https://h/elsewhere/x", &grant),
        Err(signgate_providers::Error::NginxSecureLink(
            Error::OutsideLocation(_)
        ))
    ));
    assert!(query.sign_url("https://h/m/a/x", &grant).is_ok());
}

/// A credential signed for `signed` (a folder URL) as a client presents it for `file` under
/// `folder`.
fn present(
    credential: &Credential,
    signed: &str,
    folder: &str,
    file: &str,
) -> (String, Vec<(String, String)>) {
    match credential {
        Credential::Url(url) if url.contains('?') => {
            let (_, query) = url.split_once('?').unwrap();
            (format!("{folder}{file}?{query}"), vec![])
        }
        // The path form: the folder, the credential's segments, then the file.
        Credential::Url(url) => {
            let segments = &url[signed.len()..url.rfind('/').unwrap() + 1];
            (format!("{folder}{segments}{file}"), vec![])
        }
        Credential::Cookie { name, value } => (
            format!("{folder}{file}"),
            vec![(name.clone(), value.clone())],
        ),
        Credential::Cookies(list) => (format!("{folder}{file}"), list.clone()),
    }
}

/// The credential's URL or cookie values, `&`-joined.
fn text(credential: &Credential) -> String {
    match credential {
        Credential::Url(url) => url.clone(),
        Credential::Cookie { value, .. } => value.clone(),
        Credential::Cookies(list) => list
            .iter()
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join("&"),
    }
}

/// The one 22-character base64url piece: the hash.
fn hash_in(text: &str) -> &str {
    text.split(['/', '?', '&', '=', ',', ';'])
        .find(|p| p.len() == 22 && p.chars().all(|c| B64URL.contains(c)))
        .unwrap()
}

fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

struct Form {
    location: &'static str,
    source: &'static str,
    selector: &'static str,
}

const FORMS: [Form; 5] = [
    Form {
        location: FOLDER,
        source: "$arg_md5,$arg_expires",
        selector: "$arg_sk",
    },
    Form {
        location: FOLDER,
        source: "$cookie_h,$cookie_e",
        selector: "$cookie_sk",
    },
    Form {
        location: FOLDER,
        source: "$cookie_sl",
        selector: "$cookie_sk",
    },
    Form {
        location: PATH,
        source: "$sl_hash,$sl_expires",
        selector: "",
    },
    Form {
        location: PATH_ONE,
        source: "$sl_token",
        selector: "",
    },
];

fn delivery<'a>(form: usize, entry: &'a str) -> Delivery<'a> {
    match form {
        0 => Delivery::Query { url: entry },
        1 | 2 => Delivery::Cookie,
        _ => Delivery::Path { url: entry },
    }
}

proptest! {
    #[test]
    fn folder_credentials_verify_and_every_change_is_refused(
        form in 0usize..6, name in "[a-z0-9 é%]{1,6}", secret in "[A-Za-z0-9]{1,16}",
        other in "[A-Za-z0-9]{1,16}", expires in 1_000_000u64..4_000_000_000,
        v4 in any::<[u8; 4]>(), bind in any::<bool>(), rotate in any::<bool>(), index in any::<usize>(),
    ) {
        // The "wrong" secret must be another secret (two short random ones can be equal).
        prop_assume!(other != secret);
        // Form 5 is the path form with a rotation key segment.
        let (f, rotation) = match form {
            5 => (&Form { location: PATH_KEY, source: "$sl_hash,$sl_expires", selector: "$sl_key" }, true),
            n => (&FORMS[n], rotate && !FORMS[n].selector.is_empty()),
        };
        let expression = if bind { FOLDER_EXPIRES_IP } else { FOLDER_EXPIRES };
        let ip = bind.then(|| IpAddr::from(v4));
        let previous = format!("{other}p");
        let link = build(f.location, f.source, expression, &secret, rotation.then_some((f.selector, previous.as_str()))).unwrap();
        let folder = format!("https://h/m/{}/", encode(&name));
        let entry = format!("{folder}index.m3u8");
        let grant = Grant { client_ip: ip, ..Grant::until(expires) };
        let credential = link.sign_prefix(&folder, delivery(form.min(3), &entry), &grant).unwrap();
        let at = |link: &SecureLink, (url, cookies): &(String, Vec<(String, String)>), ip: Option<IpAddr>, now: u64| {
            let cookies: Vec<(&str, &str)> = cookies.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            denial(link, url, &cookies, ip, now)
        };
        let here = present(&credential, &folder, &folder, "v1/seg.ts");
        prop_assert_eq!(at(&link, &present(&credential, &folder, &folder, "index.m3u8"), ip, expires), None);
        prop_assert_eq!(at(&link, &here, ip, 0), None);
        prop_assert_eq!(at(&link, &here, ip, expires + 1), Some(Denial::Expired));
        // Another folder (a sibling, or the parent's file) is refused.
        let sibling = format!("https://h/m/{}x/", encode(&name));
        prop_assert_eq!(at(&link, &present(&credential, &folder, &sibling, "seg.ts"), ip, 0), Some(Denial::BadHash));
        let tweak = |from: &str, to: &str| -> (String, Vec<(String, String)>) {
            let (url, cookies) = &here;
            (url.replacen(from, to, 1), cookies.iter().map(|(n, v)| (n.clone(), if v == from { to.to_owned() } else { v.replacen(from, to, 1) })).collect())
        };
        let e = expires.to_string();
        let later = (expires + 1).to_string();
        let moved_expiry = if here.0.contains(&format!("/{e}/")) {
            tweak(&format!("/{e}/"), &format!("/{later}/"))
        } else if here.0.contains(&format!("={e}")) {
            tweak(&format!("={e}"), &format!("={later}"))
        } else if here.0.contains(&format!(",{e}")) || text(&credential).contains(&format!(",{e}")) {
            tweak(&format!(",{e}"), &format!(",{later}"))
        } else {
            tweak(&e, &later)
        };
        prop_assert_ne!(&moved_expiry, &here);
        prop_assert_eq!(at(&link, &moved_expiry, ip, 0), Some(Denial::BadHash));
        let hash = hash_in(&text(&credential)).to_owned();
        let changed = tweak(&hash, &change_char(&hash, index, B64URL));
        prop_assert_ne!(at(&link, &changed, ip, 0), None);
        if let Some(IpAddr::V4(v4)) = ip {
            let elsewhere = IpAddr::from(std::net::Ipv4Addr::from(u32::from(v4) ^ 1));
            prop_assert_eq!(at(&link, &here, Some(elsewhere), 0), Some(Denial::BadHash));
        }
        let wrong = build(f.location, f.source, expression, &other, rotation.then_some((f.selector, "nope"))).unwrap();
        prop_assert_eq!(at(&wrong, &here, ip, 0), Some(Denial::BadHash));
        if rotation {
            // Credentials signed before the rotation (with the previous secret, no key) still verify.
            let before_location = if form == 5 { PATH } else { f.location };
            let before = build(before_location, f.source, expression, &previous, None).unwrap();
            let old = before.sign_prefix(&folder, delivery(form.min(3), &entry), &grant).unwrap();
            let old_here = present(&old, &folder, &folder, "v1/seg.ts");
            let old_here = if form == 5 {
                // The path form with a key segment: an old link names no current key.
                (old_here.0.replacen(&folder, &format!("{folder}old/"), 1), old_here.1)
            } else {
                old_here
            };
            let cookies: Vec<(&str, &str)> = old_here.1.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let verified = link.verify(&EdgeRequest { method: "GET", url: &old_here.0, cookies: &cookies, client_ip: ip, now: 0 });
            prop_assert_eq!(verified.unwrap().key, "previous");
        }
    }
}

//! The README's `secure_link` snippet, run by a real nginx serving a folder of files only with a
//! valid link: signgate's `nginx-secure-link` signer, configured with the snippet's own lines,
//! against nginx's own checks. Every answer is also checked against signgate's verifier, so the
//! two cannot drift apart.

use std::net::IpAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use signgate_providers::nginx_secure_link::{
    Config, Denial, Expression, Location, Rotation, Secret, SecureLink, Source, Var,
};
use signgate_providers::{Credential, Delivery, EdgeRequest, Grant, Provider, Refusal};
use signgate_testkit::nginx::{readme_snippet, Nginx};

const CURRENT: &str = "current secret 2";
const PREVIOUS: &str = "previous secret 1";
const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1));
const OTHER_LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));
const UTF8_KEY: &str = "files/a b/ü 100%.txt";
const UTF8_URL_PATH: &str = "/files/a%20b/%C3%BC%20100%25.txt";

fn snippet() -> String {
    readme_snippet("nginx-secure-link", "nginx")
}

fn files(dir: &Path) {
    let html = dir.join("html");
    for (key, body) in [
        ("files/notes.txt", &b"nginx serves these bytes\n"[..]),
        (UTF8_KEY, "grüße, 100% \u{0}\n".as_bytes()),
        ("files/a b/ü.txt", "signed through the service\n".as_bytes()),
        ("folders/album/one.txt", b"first file of the album\n"),
        ("folders/other/two.txt", b"another folder\n"),
        (
            "hls/show/index.m3u8",
            b"#EXTM3U\n#EXTINF:2,\n720p/seg0.ts\n",
        ),
        ("hls/show/720p/seg0.ts", &[0x47, 0x00, 0xff, 0x10, 0x47][..]),
        ("hls/other/seg0.ts", b"not yours"),
    ] {
        let path = html.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
}

async fn start() -> Nginx {
    let snippet = snippet();
    Nginx::start(files, |port, dir| {
        snippet
            .replace("127.0.0.1:8081", &format!("127.0.0.1:{port}"))
            .replace("/srv/files", &dir.join("html").display().to_string())
            .replace("CURRENT-SECRET", CURRENT)
            .replace("PREVIOUS-SECRET", PREVIOUS)
    })
    .await
}

/// signgate's configuration for the snippet's location whose line starts with `location`,
/// read from the snippet's lines: the regex, `secure_link`, the expression with the map's
/// variable as `$secret`, and that map's selector and key name.
fn configured(location: &str, secret: &str, previous: Option<&str>) -> SecureLink {
    let snippet = snippet();
    let lines: Vec<&str> = snippet.lines().map(str::trim).collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(location))
        .unwrap_or_else(|| panic!("no {location} in the snippet"));
    let regex = lines[at]
        .strip_prefix("location ~ ")
        .map(|r| Location::parse(r.trim_end_matches('{').trim()).unwrap());
    let body: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| **l != "}")
        .copied()
        .collect();
    let directive = |name: &str| {
        body.iter()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim_end_matches(';').trim_matches('"').to_owned())
            .unwrap()
    };
    let expression = directive("secure_link_md5 ");
    let variable = expression.rsplit('$').next().unwrap();
    let map = lines
        .iter()
        .position(|l| l.starts_with("map ") && l.ends_with(&format!("${variable} {{")))
        .unwrap();
    let selector = lines[map].split(' ').nth(1).unwrap();
    let name = lines[map + 1..]
        .iter()
        .find(|l| !l.starts_with("default"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap();
    let expression = expression.replace(&format!("${variable}"), "$secret");
    SecureLink::configure(Config {
        expression: match &regex {
            Some(location) => Expression::parse_in(&expression, location).unwrap(),
            None => Expression::parse(&expression).unwrap(),
        },
        location: regex,
        source: Source::parse(&directive("secure_link ")).unwrap(),
        secret: Secret::new(secret).unwrap(),
        rotation: previous.map(|previous| Rotation {
            selector: Var::parse(selector).unwrap(),
            name: name.to_owned(),
            previous: Secret::new(previous).unwrap(),
        }),
    })
    .unwrap()
}

/// The signing side, in one place: the service will take it over (issue 11).
fn sign(
    link: &SecureLink,
    target: &str,
    delivery: Option<Delivery<'_>>,
    grant: &Grant,
) -> Credential {
    match delivery {
        None => Credential::Url(link.sign_url(target, grant).unwrap()),
        Some(delivery) => link.sign_prefix(target, delivery, grant).unwrap(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn grant(expires: u64, ip: Option<IpAddr>) -> Grant {
    Grant {
        client_ip: ip,
        ..Grant::until(expires)
    }
}

/// GETs `url` from `from` with `cookies`, asserts nginx's `status` (and the exact `body` on
/// 200), and that signgate's verifier, configured as nginx is, gives the same verdict.
async fn expect(
    link: &SecureLink,
    url: &str,
    cookies: &[(String, String)],
    from: IpAddr,
    status: u16,
    body: Option<&[u8]>,
) {
    let client = reqwest::Client::builder()
        .local_address(from)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.get(url);
    if !cookies.is_empty() {
        let header: Vec<String> = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect();
        request = request.header("Cookie", header.join("; "));
    }
    let response = request.send().await.unwrap();
    assert_eq!(
        response.status().as_u16(),
        status,
        "nginx for {url} from {from}"
    );
    let bytes = response.bytes().await.unwrap();
    if let Some(body) = body {
        assert_eq!(bytes.as_ref(), body, "{url}");
    }
    let pairs: Vec<(&str, &str)> = cookies
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let verdict = link.verify(&EdgeRequest {
        method: "GET",
        url,
        cookies: &pairs,
        client_ip: Some(from),
        now: now(),
    });
    let agreed = match verdict {
        Ok(_) => 200,
        Err(Refusal::NginxSecureLink(Denial::Expired)) => 410,
        Err(Refusal::NginxSecureLink(Denial::OutsideLocation)) => 404,
        Err(_) => 403,
    };
    assert_eq!(agreed, status, "signgate's verifier for {url}: {verdict:?}");
}

fn tamper(url: &str, param: &str) -> String {
    let at = url.find(param).unwrap() + param.len();
    let first = if url[at..].starts_with('A') { "B" } else { "A" };
    format!("{}{first}{}", &url[..at], &url[at + 1..])
}

#[tokio::test]
async fn nginx_secure_link_serves_signed_links_and_refuses_the_rest() {
    let nginx = start().await;
    let files = configured("location /files/", CURRENT, Some(PREVIOUS));
    let later = grant(now() + 300, Some(LOCAL));
    let no_cookies = &[];

    let url = |path: &str| nginx.url(path);
    let Credential::Url(notes) = sign(&files, &url("/files/notes.txt"), None, &later) else {
        panic!()
    };
    assert!(notes.ends_with("&sk=k2"), "{notes}");
    expect(
        &files,
        &notes,
        no_cookies,
        LOCAL,
        200,
        Some(b"nginx serves these bytes\n"),
    )
    .await;
    // A key with spaces, UTF-8 and '%': signed as nginx decodes $uri.
    let Credential::Url(utf8) = sign(&files, &url(UTF8_URL_PATH), None, &later) else {
        panic!()
    };
    let bytes = std::fs::read(nginx.dir.join("html").join(UTF8_KEY)).unwrap();
    expect(&files, &utf8, no_cookies, LOCAL, 200, Some(&bytes)).await;

    expect(
        &files,
        &tamper(&notes, "md5="),
        no_cookies,
        LOCAL,
        403,
        None,
    )
    .await;
    let moved = notes.replace("/notes.txt", "/a%20b/%C3%BC%20100%25.txt");
    expect(&files, &moved, no_cookies, LOCAL, 403, None).await;
    let Credential::Url(expired) = sign(
        &files,
        &url("/files/notes.txt"),
        None,
        &grant(now() - 60, Some(LOCAL)),
    ) else {
        panic!()
    };
    expect(&files, &expired, no_cookies, LOCAL, 410, None).await;
    // Bound to 127.0.0.1: refused from 127.0.0.2, and a link for 127.0.0.2 works from there.
    expect(&files, &notes, no_cookies, OTHER_LOCAL, 403, None).await;
    let Credential::Url(other) = sign(
        &files,
        &url("/files/notes.txt"),
        None,
        &grant(now() + 300, Some(OTHER_LOCAL)),
    ) else {
        panic!()
    };
    expect(&files, &other, no_cookies, OTHER_LOCAL, 200, None).await;
}

#[tokio::test]
async fn nginx_secure_link_accepts_the_previous_secret_the_snippet_lists() {
    let nginx = start().await;
    let rotating = configured("location /files/", CURRENT, Some(PREVIOUS));
    let later = grant(now() + 300, Some(LOCAL));
    let target = nginx.url("/files/notes.txt");
    let body = Some(&b"nginx serves these bytes\n"[..]);
    // Signed before the rotation began: the previous secret, no key name.
    let before = configured("location /files/", PREVIOUS, None);
    let Credential::Url(old) = sign(&before, &target, None, &later) else {
        panic!()
    };
    assert!(!old.contains("sk="), "{old}");
    expect(&rotating, &old, &[], LOCAL, 200, body).await;
    // The previous secret naming the current key, or a secret nginx does not list: refused.
    expect(&rotating, &format!("{old}&sk=k2"), &[], LOCAL, 403, None).await;
    let stranger = configured("location /files/", "not listed", None);
    let Credential::Url(forged) = sign(&stranger, &target, None, &later) else {
        panic!()
    };
    expect(&rotating, &forged, &[], LOCAL, 403, None).await;
}

#[tokio::test]
async fn nginx_secure_link_cookie_form_covers_one_folder() {
    let nginx = start().await;
    let album = configured(
        "location ~ ^(?<sl_folder>/folders/",
        CURRENT,
        Some(PREVIOUS),
    );
    let folder = nginx.url("/folders/album/");
    let Credential::Cookies(cookies) = sign(
        &album,
        &folder,
        Some(Delivery::Cookie),
        &grant(now() + 300, None),
    ) else {
        panic!()
    };
    let names: Vec<&str> = cookies.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sl_hash", "sl_expires", "sl_key"]);
    let one = nginx.url("/folders/album/one.txt");
    expect(
        &album,
        &one,
        &cookies,
        LOCAL,
        200,
        Some(b"first file of the album\n"),
    )
    .await;
    expect(
        &album,
        &nginx.url("/folders/other/two.txt"),
        &cookies,
        LOCAL,
        403,
        None,
    )
    .await;
    expect(&album, &one, &[], LOCAL, 403, None).await;
    let mut tampered = cookies.clone();
    tampered[0].1 = tamper(&tampered[0].1, "");
    expect(&album, &one, &tampered, LOCAL, 403, None).await;
    let Credential::Cookies(expired) = sign(
        &album,
        &folder,
        Some(Delivery::Cookie),
        &grant(now() - 60, None),
    ) else {
        panic!()
    };
    expect(&album, &one, &expired, LOCAL, 410, None).await;
}

#[tokio::test]
async fn nginx_secure_link_path_form_is_inherited_by_relative_segment_urls() {
    let nginx = start().await;
    let hls = configured("location ~ ^(?<sl_folder>/hls/", CURRENT, Some(PREVIOUS));
    let entry = nginx.url("/hls/show/index.m3u8");
    let delivery = Delivery::Path { url: &entry };
    let Credential::Url(playlist) = sign(
        &hls,
        &nginx.url("/hls/show/"),
        Some(delivery),
        &grant(now() + 300, None),
    ) else {
        panic!()
    };
    assert!(
        playlist.starts_with(&nginx.url("/hls/show/k2/")),
        "{playlist}"
    );
    expect(
        &hls,
        &playlist,
        &[],
        LOCAL,
        200,
        Some(b"#EXTM3U\n#EXTINF:2,\n720p/seg0.ts\n"),
    )
    .await;
    // What a player does with the playlist's relative line.
    let segment = reqwest::Url::parse(&playlist)
        .unwrap()
        .join("720p/seg0.ts")
        .unwrap();
    expect(
        &hls,
        segment.as_str(),
        &[],
        LOCAL,
        200,
        Some(&[0x47, 0x00, 0xff, 0x10, 0x47]),
    )
    .await;
    let outside = segment
        .as_str()
        .replace("/hls/show/", "/hls/other/")
        .replace("720p/", "");
    expect(&hls, &outside, &[], LOCAL, 403, None).await;
    let tampered = tamper(&playlist, "/k2/");
    expect(&hls, &tampered, &[], LOCAL, 403, None).await;
}

/// The service itself, configured with the snippet's lines for the file links and the path
/// form, in front of the real nginx: its 302s and folder tokens download from nginx, and nginx
/// refuses what the rules refuse.
#[tokio::test]
async fn the_service_signs_links_and_folder_tokens_the_real_nginx_accepts() {
    let nginx = start().await;
    let dir = signgate_testkit::fs::tempdir();
    std::fs::write(dir.join("current"), CURRENT).unwrap();
    std::fs::write(dir.join("previous"), PREVIOUS).unwrap();
    let keys = serde_json::json!([
        {"name": "k2", "key_file": dir.join("current")},
        {"name": "k1", "key_file": dir.join("previous")},
    ]);
    let base = nginx.url("");
    let base = base.trim_end_matches('/');
    let distributions = serde_json::json!([
        {
            "name": "files", "provider": "nginx-secure-link", "url": base, "keys": keys,
            "active_key": "k2", "rotation_selector": "$arg_sk",
            "expression": "$secure_link_expires$uri$remote_addr $secret",
        },
        {
            "name": "hls", "provider": "nginx-secure-link", "url": base, "keys": keys,
            "active_key": "k2", "rotation_selector": "$sl_key",
            "location": r"^(?<sl_folder>/hls/[^/]+/)(?<sl_key>[\w-]+)/(?<sl_hash>[\w-]+)/(?<sl_expires>\d+)/(?<sl_file>.*)$",
            "secure_link": "$sl_hash,$sl_expires",
            "expression": "$secure_link_expires$sl_folder $secret",
        },
    ]);
    let rules = serde_json::json!([
        {"pattern": "files/**", "access": "authenticated", "distribution": "files", "bind_client_ip": true},
        {"pattern": "hls/{sub}/**", "access": "authenticated", "distribution": "hls", "cookies": true, "folder_token": "path"},
    ]);
    let app =
        signgate_testkit::app::spawn_app(&[("distributions", distributions), ("rules", rules)])
            .await;
    let t = signgate_testkit::tokens::token("show", serde_json::json!({}));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = app.get("/files/files/a%20b/%C3%BC.txt", Some(&t)).await;
    assert_eq!(r.status(), 302, "{:?}", r.text().await);
    let link = signgate_testkit::http::location(&r);
    assert!(link.contains("&sk=k2"), "{link}");
    let r = client.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200, "{link}");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        b"signed through the service\n"
    );
    let other = link.replace("a%20b", "a%20c");
    assert_eq!(client.get(&other).send().await.unwrap().status(), 403);

    let entry = signgate_testkit::http::location(
        &app.get("/cookies/hls/show?next=index.m3u8", Some(&t)).await,
    );
    assert!(entry.starts_with(&nginx.url("/hls/show/k2/")), "{entry}");
    let r = client.get(&entry).send().await.unwrap();
    assert_eq!(r.status(), 200, "{entry}");
    let segment = reqwest::Url::parse(&entry)
        .unwrap()
        .join("720p/seg0.ts")
        .unwrap();
    let r = client.get(segment.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 200, "{segment}");
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &[0x47, 0x00, 0xff, 0x10, 0x47]
    );
    let bob = entry
        .replace("/hls/show/", "/hls/other/")
        .replace("index.m3u8", "seg0.ts");
    assert_eq!(client.get(&bob).send().await.unwrap().status(), 403);
    // The rules still decide: another user's folder is never signed.
    signgate_testkit::http::assert_nothing_signed(
        app.get("/cookies/hls/other?next=seg0.ts", Some(&t)).await,
    )
    .await;
}

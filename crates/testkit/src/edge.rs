//! The local edge, which serves only what verifies (as CloudFront would), the demo public keys
//! it trusts, and the media files the end-to-end tests download and play.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use signgate_cloudfront::{verify_url, KeyPairId, PublicKeys, Verified, VerifyingKey, Viewer};

use crate::app::{repo, spawn_app, TestApp};
use crate::tokens::now;

/// The demo public keys, to check that what signgate hands out verifies as CloudFront would.
pub fn demo_public_keys() -> PublicKeys {
    let mut keys = PublicKeys::default();
    for (id, file) in [
        ("KDEMO2RSA0001", "demo-rsa-public.pem"),
        ("KDEMO2ECDSA01", "demo-ecdsa-public.pem"),
    ] {
        let key = VerifyingKey::from_file(&repo().join("config/dev").join(file)).unwrap();
        keys.insert(KeyPairId::parse(id).unwrap(), key);
    }
    keys
}

/// Verifies a signed URL with the demo keys now, as seen from `client_ip`; panics with the
/// reason when it does not verify.
pub fn verify(url: &str, client_ip: Option<&str>) -> Verified {
    let viewer = Viewer {
        now: now(),
        client_ip: client_ip.map(|ip| ip.parse().unwrap()),
    };
    verify_url(url, &demo_public_keys(), viewer).unwrap_or_else(|d| panic!("{url}: {d}"))
}

/// A local edge serving `root`, trusting the demo keys.
pub async fn spawn_edge(root: &Path) -> SocketAddr {
    let edge = signgate::edge::Edge {
        verifier: signgate::edge::Verifier::CloudFront(demo_public_keys()),
        origin: signgate::edge::Origin::Folder(root.to_path_buf()),
        base_url: None,
    };
    signgate::edge::spawn(edge, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// The service in front of a local edge serving [`media_root`], with [`media_rules`]; returns
/// the service and the edge's address.
pub async fn spawn_media_app() -> (TestApp, SocketAddr) {
    let root = media_root();
    let edge = spawn_edge(&root).await;
    let app = spawn_app(&[edge_distribution(edge), media_rules()]).await;
    (app, edge)
}

/// Overrides that point the demo distribution at a local edge, with host-only cookies that the
/// browser sends to every port of 127.0.0.1.
pub fn edge_distribution(edge: SocketAddr) -> (&'static str, Value) {
    (
        "distributions",
        json!([{"name": "demo", "url": format!("http://{edge}"), "key_set": "demo", "cookie_secure": false}]),
    )
}

/// A folder of test files: public/report.pdf, users/alice/notes.txt, hls/alice/... .
pub fn media_root() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "signgate-media-{}-{}",
        std::process::id(),
        crate::fs::now_nanos()
    ));
    for (path, bytes) in media_files() {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, bytes).unwrap();
    }
    dir
}

pub fn media_files() -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("public/report.pdf".to_string(), b"%PDF-1.4 signgate test report \x00\x01\x02\xff".to_vec()),
        ("users/alice/notes.txt".to_string(), b"alice's notes".to_vec()),
        ("users/bob/notes.txt".to_string(), b"bob's notes".to_vec()),
        ("hls/alice/master.m3u8".to_string(), b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.ts\n#EXTINF:2.0,\nseg1.ts\n#EXT-X-ENDLIST\n".to_vec()),
        ("hls/alice/seg0.ts".to_string(), vec![0x47; 188 * 4]),
        ("hls/alice/seg1.ts".to_string(), vec![0x47; 188 * 2]),
        ("hls/bob/master.m3u8".to_string(), b"#EXTM3U\n".to_vec()),
        ("hls/alice/player.html".to_string(), PLAYER_HTML.as_bytes().to_vec()),
    ];
    for i in 0..40 {
        files.push((
            format!("public/batch/{i}.bin"),
            format!("object number {i}").into_bytes(),
        ));
    }
    files
}

/// Rules for the media tests: public/**, users/{sub}/**, and signed cookies for hls/{sub}/**.
pub fn media_rules() -> (&'static str, Value) {
    (
        "rules",
        json!([
            {"pattern": "hls/{sub}/**", "access": "authenticated", "distribution": "demo", "cookies": true, "lifetime_seconds": 600},
            {"pattern": "public/**", "access": "authenticated", "distribution": "demo"},
            {"pattern": "users/{sub}/**", "access": "authenticated", "distribution": "demo"}
        ]),
    )
}

/// A page inside the signed folder that loads the playlist and every segment it lists, with the
/// browser's cookies, and reports the byte counts in its title.
pub const PLAYER_HTML: &str = r##"<!doctype html><html><head><title>loading</title></head><body><script>
(async () => {
  try {
    const playlist = await fetch("master.m3u8");
    if (!playlist.ok) throw new Error("playlist " + playlist.status);
    const text = await playlist.text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line || line.startsWith("#")) continue;
      const seg = await fetch(line);
      if (!seg.ok) throw new Error(line + " " + seg.status);
      total += (await seg.arrayBuffer()).byteLength;
    }
    document.title = "played:" + text.length + ":" + total;
  } catch (e) {
    document.title = "failed:" + e.message;
  }
})();
</script></body></html>"##;

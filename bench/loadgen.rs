//! A small load generator for `bench/run`: keep-alive HTTP/1.1 over raw TCP.
//!
//!   signgate-loadgen rate ADDR PATH HEADER RATE SECONDS CONNECTIONS
//!       fixed-rate load on keep-alive connections; latency measured from each request's send
//!       time; prints one JSON line with percentiles and how far sends fell behind schedule
//!       (a server that cannot keep up shows there, and in the achieved rate).
//!   signgate-loadgen hold ADDR PATH HEADER CONNECTIONS SECONDS
//!       opens CONNECTIONS keep-alive connections, one request each, prints "ready", holds them.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // One thread: the load generator is pinned to one core, and two threads time-slicing on it
    // would show up as tens of milliseconds of fake latency.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.get(1).map(String::as_str) {
        Some("rate") if args.len() == 8 => runtime.block_on(rate(
            &args[2],
            &args[3],
            &args[4],
            args[5].parse().unwrap(),
            args[6].parse().unwrap(),
            args[7].parse().unwrap(),
        )),
        Some("hold") if args.len() == 7 => runtime.block_on(hold(
            &args[2],
            &args[3],
            &args[4],
            args[5].parse().unwrap(),
            args[6].parse().unwrap(),
        )),
        _ => {
            eprintln!("usage: signgate-loadgen rate ADDR PATH HEADER RATE SECONDS CONNECTIONS | hold ADDR PATH HEADER CONNECTIONS SECONDS");
            std::process::exit(2);
        }
    }
}

fn request(path: &str, header: &str) -> Vec<u8> {
    let extra = if header.is_empty() {
        String::new()
    } else {
        format!("{header}\r\n")
    };
    format!("GET {path} HTTP/1.1\r\nHost: bench\r\n{extra}\r\n").into_bytes()
}

/// Reads one response; returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            let total = end + 4 + length;
            while buf.len() < total {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            buf.drain(..total);
            return Ok(status);
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn rate(addr: &str, path: &str, header: &str, rate: f64, seconds: f64, connections: usize) {
    let req = request(path, header);
    let per_conn = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(50);
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (addr, req) = (addr.to_owned(), req.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let mut buf = Vec::new();
            let (mut latencies, mut statuses, mut lags) = (Vec::new(), Vec::new(), Vec::new());
            // Spread the connections' schedules evenly.
            let mut intended = start + per_conn.mul_f64(c as f64 / connections as f64);
            while intended < deadline {
                tokio::time::sleep_until(intended.into()).await;
                let sent = Instant::now();
                lags.push(sent.saturating_duration_since(intended).as_micros() as u64);
                if stream.write_all(&req).await.is_err() {
                    break;
                }
                match read_response(&mut stream, &mut buf).await {
                    Ok(status) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        statuses.push(status);
                    }
                    Err(_) => break,
                }
                intended += per_conn;
            }
            (latencies, statuses, lags)
        }));
    }
    let (mut latencies, mut statuses, mut lags) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let (l, s, g) = t.await.unwrap();
        latencies.extend(l);
        statuses.extend(s);
        lags.extend(g);
    }
    lags.sort_unstable();
    let lag_p99 = lags
        .get((lags.len() as f64 * 0.99) as usize)
        .copied()
        .unwrap_or(0);
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    let non_3xx = statuses.iter().filter(|s| !(200..400).contains(*s)).count();
    println!(
        "{{\"requests\":{},\"achieved_per_s\":{:.1},\"p50_us\":{},\"p99_us\":{},\"max_us\":{},\"errors\":{},\"send_lag_p99_us\":{}}}",
        latencies.len(),
        latencies.len() as f64 / seconds,
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(0),
        non_3xx,
        lag_p99
    );
}

async fn hold(addr: &str, path: &str, header: &str, connections: usize, seconds: u64) {
    let req = request(path, header);
    let mut streams = Vec::new();
    for _ in 0..connections {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&req).await.unwrap();
        let mut buf = Vec::new();
        read_response(&mut s, &mut buf).await.unwrap();
        streams.push(s);
    }
    println!("ready {}", streams.len());
    tokio::time::sleep(Duration::from_secs(seconds)).await;
}

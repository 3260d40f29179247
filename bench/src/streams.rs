//! `headway-bench streams BASE STREAM_TOKEN WRITE_TOKEN STREAMS WRITES PATH SERVER_PID`
//!
//! Opens STREAMS event streams (`GET /api/v1/events`) as one caller (STREAM_TOKEN), lets them settle,
//! and reads the server's resident memory before and after (memory per idle stream).
//! Then records WRITES measurements one at a time (`POST PATH` with WRITE_TOKEN, 20 a
//! second), and for
//! every stream notes when each write's `measurement.recorded` event arrived:
//! commit-to-event latency, counted from the moment the write's 201 arrived (the commit
//! is acknowledged) and, as an upper bound, from the moment the POST was sent.
//! Prints one JSON object.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

type Arrivals = Arc<Mutex<Vec<(String, Instant)>>>;

fn rss_kb(pid: u32) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| "no VmRSS".to_owned())
}

async fn open(addr: &str, token: &str, arrivals: Arrivals) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let request = format!(
        "GET /api/v1/events?types=measurement.recorded HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let Some(data) = line.strip_prefix("data: ") else {
                continue;
            };
            let at = Instant::now();
            let Ok(event) = serde_json::from_str::<serde_json::Value>(data) else {
                continue;
            };
            if let Some(id) = event["resource_id"].as_str() {
                if let Ok(mut seen) = arrivals.lock() {
                    seen.push((id.to_owned(), at));
                }
            }
        }
    });
    Ok(())
}

/// One POST on a fresh connection: the new record's id, when it was sent, when its
/// answer arrived.
async fn write(addr: &str, token: &str, path: &str) -> Result<(String, Instant, Instant), String> {
    let body = r#"{"measure_code":"nrs","values":{"value":6}}"#;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let sent = Instant::now();
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(|e| e.to_string())?;
    let answered = Instant::now();
    if !answer.starts_with("HTTP/1.1 201") {
        return Err(answer.lines().next().unwrap_or_default().to_owned());
    }
    let json = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = json.find('{').map_or(json, |i| &json[i..]);
    let json = json.rfind('}').map_or(json, |i| &json[..=i]);
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let id = value["id"].as_str().ok_or("no id")?.to_owned();
    Ok((id, sent, answered))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

pub fn run(args: &[String]) -> Result<serde_json::Value, String> {
    let [base, token, writer, streams, writes, path, pid] = args else {
        return Err(
            "usage: headway-bench streams BASE STREAM_TOKEN WRITE_TOKEN STREAMS WRITES PATH SERVER_PID"
                .into(),
        );
    };
    let addr = base.trim_start_matches("http://").to_owned();
    let streams: usize = streams.parse().map_err(|_| "STREAMS must be a number")?;
    let writes: usize = writes.parse().map_err(|_| "WRITES must be a number")?;
    let pid: u32 = pid.parse().map_err(|_| "SERVER_PID must be a number")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let arrivals: Arrivals = Arc::default();
        // A warm-up write, so the first measured one does not pay for first use.
        write(&addr, writer, path).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = rss_kb(pid)?;
        for _ in 0..streams {
            open(&addr, token, arrivals.clone()).await?;
        }
        // Let every stream be accepted and settle: its first audit event written, and
        // the blocking threads the burst of openings started gone again (tokio keeps
        // an idle one for 10 s), so what is left is what idle streams hold.
        tokio::time::sleep(Duration::from_secs(12)).await;
        let idle = rss_kb(pid)?;
        let mut log = HashMap::new();
        for _ in 0..writes {
            let (id, sent, answered) = write(&addr, writer, path).await?;
            log.insert(id, (sent, answered));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let seen = arrivals.lock().map_err(|e| e.to_string())?.clone();
        let (mut from_answer, mut from_send) = (Vec::new(), Vec::new());
        for (id, at) in &seen {
            if let Some((sent, answered)) = log.get(id) {
                let ms = |from: &Instant| at.saturating_duration_since(*from).as_secs_f64() * 1e3;
                from_answer.push(ms(answered));
                from_send.push(ms(sent));
            }
        }
        let expected = streams * writes;
        from_answer.sort_by(f64::total_cmp);
        from_send.sort_by(f64::total_cmp);
        Ok(serde_json::json!({
            "streams": streams,
            "writes": writes,
            "events_expected": expected,
            "events_received": from_answer.len(),
            "p50_ms": percentile(&from_answer, 50.0),
            "p99_ms": percentile(&from_answer, 99.0),
            "max_ms": percentile(&from_answer, 100.0),
            "p50_from_send_ms": percentile(&from_send, 50.0),
            "p99_from_send_ms": percentile(&from_send, 99.0),
            "rss_before_kb": before,
            "rss_idle_kb": idle,
            "kb_per_idle_stream": (idle.saturating_sub(before)) as f64 / streams as f64,
        }))
    })
}

//! The server over real sockets: raw HTTP requests (a client library would tidy `..` away before
//! sending, and the point is to send exactly what an attacker would), run folders made as
//! `ftheta train` makes them, the live event stream, and the playground's bounds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ftheta_train::run::{RunState, RunStatus};
use serde_json::{json, Value};

/// A server on a free port over `root`, for the rest of the test process.
fn start(root: &Path) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
        ftheta_serve::serve(&root, addr, |at| tx.send(at).unwrap()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(30)).expect("the server starts")
}

/// Sends `request` (a request line and headers) and returns (status, headers, body).
fn raw(addr: SocketAddr, request: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).unwrap();
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head, bytes[split + 4..].to_vec())
}

fn get(addr: SocketAddr, target: &str) -> (u16, String, Vec<u8>) {
    raw(addr, &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"))
}

fn get_json(addr: SocketAddr, target: &str) -> (u16, Value) {
    let (status, _, body) = get(addr, target);
    (status, serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{target}: {}", String::from_utf8_lossy(&body))))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-serve-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run folder as `ftheta train` leaves it: config, `records` history lines, a status.
fn make_run(dir: &Path, records: usize, status: &RunStatus) {
    std::fs::create_dir_all(dir).unwrap();
    let config = json!({"spec": "linear", "data": {"source": "deliveries"},
                        "train": {"optimizer": "sgd", "lr": 0.01, "batch_size": 32, "loss": "mse"}});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let mut lines = String::new();
    for u in 1..=records {
        lines += &format!(
            "{{\"update\":{u},\"epoch\":{u},\"seconds\":{},\"train_loss\":{},\"val_loss\":{}}}\n",
            u as f64 * 0.1,
            100.0 / u as f64,
            110.0 / u as f64
        );
    }
    std::fs::write(dir.join("history.jsonl"), lines).unwrap();
    std::fs::write(dir.join("status.json"), serde_json::to_string(status).unwrap()).unwrap();
}

#[test]
fn no_request_reaches_a_file_outside_the_runs_folder() {
    let base = tmp("traversal");
    let root = base.join("runs");
    make_run(&root.join("a"), 3, &RunStatus::ended(RunState::Finished, None));
    std::fs::write(base.join("secret.txt"), "root:x:0:0 secret").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(base.join("secret.txt"), root.join("a/leak.txt")).unwrap();
    let addr = start(&root);
    for target in [
        "/runs/../secret.txt",
        "/runs/../../etc/passwd",
        "/runs/a/../../secret.txt",
        "/runs/%2e%2e/secret.txt",
        "/runs/%2E%2E%2Fsecret.txt",
        "/runs/..%2fsecret.txt",
        "/runs/a%2f..%2f..%2fsecret.txt",
        "/runs/..%5csecret.txt",
        "/runs/%252e%252e/secret.txt",
        "/runs/a/leak.txt",
        "/runs//etc/passwd",
        "/runs/%2fetc%2fpasswd",
        "/assets/../secret.txt",
        "/assets/..%2f..%2fCargo.toml",
        "/api/run?id=..",
        "/api/run?id=a/../..",
        "/api/run?id=%2e%2e%2f%2e%2e",
        "/api/run/events?id=../runs/a",
    ] {
        let (status, _, body) = get(addr, target);
        let text = String::from_utf8_lossy(&body);
        assert!(matches!(status, 400 | 403 | 404), "{target}: {status} {text}");
        assert!(!text.contains("root:x:0:0"), "{target}: {text}");
    }
    // A climb is refused as such, not merely not found.
    let (status, _, body) = get(addr, "/runs/%2e%2e/secret.txt");
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    // Files inside are served byte for byte.
    let (status, _, body) = get(addr, "/runs/a/history.jsonl");
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(root.join("a/history.jsonl")).unwrap());
    // A Host naming another machine is refused (DNS rebinding).
    let (status, _, _) = raw(addr, "GET /api/runs HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n");
    assert_eq!(status, 403);
}

#[test]
fn runs_are_listed_with_their_status_and_history() {
    let root = tmp("list");
    make_run(&root.join("done"), 4, &RunStatus::ended(RunState::Finished, None));
    let msg = "training diverged at update 7: the loss became inf".to_string();
    make_run(&root.join("sweep/blown"), 2, &RunStatus::ended(RunState::Diverged, Some(msg.clone())));
    // This process is alive, so a run that names it is running; a pid that is no process is not.
    make_run(&root.join("live"), 1, &RunStatus::running());
    let dead = RunStatus { state: RunState::Running, pid: Some(u32::MAX - 1), message: None };
    make_run(&root.join("killed"), 1, &dead);
    std::fs::create_dir_all(root.join("not-a-run")).unwrap();
    let addr = start(&root);
    let (status, v) = get_json(addr, "/api/runs");
    assert_eq!(status, 200);
    let runs = v["runs"].as_array().unwrap();
    let by_id = |id: &str| runs.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("{id} in {v}"));
    assert_eq!(runs.len(), 4, "{v}");
    assert_eq!(by_id("done")["status"], "finished");
    assert_eq!(by_id("done")["updates"], 4);
    assert_eq!(by_id("done")["best_val_loss"], 27.5);
    assert_eq!(by_id("done")["spec"], "linear");
    assert_eq!(by_id("sweep/blown")["status"], "diverged");
    assert_eq!(by_id("sweep/blown")["message"], msg);
    assert_eq!(by_id("live")["status"], "running");
    assert_eq!(by_id("killed")["status"], "stopped");

    let mut ck = ftheta_nn::Checkpoint::new();
    ck.insert("layers.0.weight", ftheta_core::Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]));
    ck.save(root.join("done/model.safetensors")).unwrap();
    let (status, one) = get_json(addr, "/api/run?id=done");
    assert_eq!(status, 200);
    let p = &one["parameters"][0];
    assert_eq!(
        (p["name"].as_str(), p["shape"].clone(), p["numel"].as_u64()),
        (Some("layers.0.weight"), json!([2, 2]), Some(4))
    );
    assert_eq!((p["mean"].as_f64(), p["min"].as_f64(), p["max"].as_f64()), (Some(2.5), Some(1.0), Some(4.0)));
    assert!((p["std"].as_f64().unwrap() - 1.25f64.sqrt()).abs() < 1e-12, "{p}");
    let counts: Vec<u64> = serde_json::from_value(p["histogram"].clone()).unwrap();
    assert_eq!((counts.iter().sum::<u64>(), counts[0], counts[counts.len() - 1]), (4, 1, 1), "{p}");
    assert_eq!(one["history"].as_array().unwrap().len(), 4);
    assert_eq!(one["history"][3]["train_loss"], 25.0);
    assert_eq!(one["config"]["train"]["lr"], 0.01);
    let (status, e) = get_json(addr, "/api/run?id=nope");
    assert_eq!(status, 404);
    assert!(e["error"].as_str().unwrap().contains("nope"), "{e}");
    let (status, e) = get_json(addr, "/api/run");
    assert_eq!((status, e["error"].as_str().unwrap().starts_with("id: missing")), (400, true), "{e}");
}

/// The `(event, data)` pairs in what a stream has sent so far.
fn events_in(buf: &str) -> Vec<(String, String)> {
    buf.split("\n\n")
        .filter_map(|block| {
            let field = |name: &str| block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_string());
            Some((field("event:")?, field("data:")?))
        })
        .collect()
}

/// Reads from an open event stream until `done` holds for what arrived (or 20 s passed).
fn read_until(
    s: &mut TcpStream,
    buf: &mut String,
    done: impl Fn(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut chunk = [0u8; 4096];
    loop {
        let events = events_in(buf);
        if done(&events) || Instant::now() > deadline {
            return events;
        }
        if let Ok(n) = s.read(&mut chunk) {
            buf.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    }
}

fn n_records(n: usize) -> impl Fn(&[(String, String)]) -> bool {
    move |events| events.iter().filter(|(e, _)| e == "record").count() >= n
}

#[test]
fn the_event_stream_sends_the_history_then_each_new_line() {
    let root = tmp("events");
    make_run(&root.join("r"), 3, &RunStatus::running());
    let addr = start(&root);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    write!(s, "GET /api/run/events?id=r&from=1 HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut buf = String::new();
    let events = read_until(&mut s, &mut buf, n_records(2));
    assert!(buf.contains("text/event-stream"), "{buf}");
    let records: Vec<Value> =
        events.iter().filter(|(e, _)| e == "record").map(|(_, d)| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(records.iter().map(|r| r["update"].as_u64().unwrap()).collect::<Vec<_>>(), [2, 3]);
    assert!(events.iter().any(|(e, d)| e == "status" && d.contains("\"running\"")), "{events:?}");

    // A line being written (no newline yet) is not sent; once complete, it is.
    let history = root.join("r/history.jsonl");
    let mut f = std::fs::OpenOptions::new().append(true).open(&history).unwrap();
    f.write_all(b"{\"update\":4,\"epoch\":4,\"seconds\":0.4,\"train_loss\":9.5,").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    f.write_all(b"\"val_loss\":null}\n").unwrap();
    let events = read_until(&mut s, &mut buf, n_records(3));
    let last = events.iter().filter(|(e, _)| e == "record").nth(2).expect("the new line arrives");
    assert_eq!(serde_json::from_str::<Value>(&last.1).unwrap()["train_loss"], 9.5);
    // The end of training shows up as a status event.
    let done = RunStatus::ended(RunState::Finished, None);
    std::fs::write(root.join("r/status.json"), serde_json::to_string(&done).unwrap()).unwrap();
    let finished = |events: &[(String, String)]| events.iter().any(|(e, d)| e == "status" && d.contains("finished"));
    assert!(finished(&read_until(&mut s, &mut buf, finished)), "{buf}");
    // A resumed run rewrites its history (lines past the checkpoint go) into a new file renamed
    // over the old, which may already be as long as the old one by the next poll: the stream says
    // `reset` and sends the history again from its first line.
    buf.clear();
    let old_len = std::fs::metadata(&history).unwrap().len() as usize;
    let line = "{\"update\":1,\"epoch\":1,\"seconds\":0.1,\"train_loss\":77.0,\"val_loss\":null}";
    let padded = format!("{line:<width$}\n", width = old_len + 10);
    ftheta_nn::checkpoint::write_atomic(&history, padded.as_bytes()).unwrap();
    let events = read_until(&mut s, &mut buf, n_records(1));
    let reset = events.iter().position(|(e, _)| e == "reset").expect("a reset event");
    let first = events.iter().position(|(e, _)| e == "record").unwrap();
    assert!(reset < first, "{events:?}");
    assert_eq!(serde_json::from_str::<Value>(&events[first].1).unwrap()["train_loss"], 77.0);
    assert!(buf.contains("id: 1\n"), "{buf}");
}

#[test]
fn the_playground_draws_descents_and_refuses_unbounded_work() {
    let root = tmp("playground");
    let addr = start(&root);
    let (status, land) = get_json(addr, "/api/playground/landscape?grid=50");
    assert_eq!(status, 200);
    assert_eq!(land["ws"].as_array().unwrap().len(), 50);
    assert_eq!(land["loss"].as_array().unwrap().len(), 50);
    let opt = &land["optimum"];
    // The lab's closed-form answer for the same rows.
    assert!((opt["w"].as_f64().unwrap() - 2.828).abs() < 1e-3, "{opt}");
    let (status, run) = get_json(addr, "/api/playground/run?w=1&b=15&lr=0.04&updates=100");
    assert_eq!(status, 200);
    assert_eq!(run["path"].as_array().unwrap().len(), 101);
    assert_eq!(run["path"][0], json!([1.0, 15.0]));
    let (status, run) = get_json(addr, "/api/playground/run?lr=0.2&updates=500");
    assert_eq!((status, run["diverged"].clone()), (200, json!(true)), "{run}");
    for (target, names) in [
        ("/api/playground/run?updates=1000000", "updates=1000000"),
        ("/api/playground/run?batch=0", "batch=0"),
        ("/api/playground/run?lr=abc", "lr=abc"),
        ("/api/playground/landscape?grid=100000", "grid=100000"),
    ] {
        let (status, e) = get_json(addr, target);
        assert_eq!(status, 400, "{target}");
        assert!(e["error"].as_str().unwrap().starts_with(names), "{target}: {e}");
    }
    // The pages and assets are served from the binary.
    for (target, needle) in [("/", "<html"), ("/playground", "<html"), ("/assets/chart.js", "")] {
        let (status, head, body) = get(addr, target);
        assert_eq!(status, 200, "{target}");
        assert!(String::from_utf8_lossy(&body).to_lowercase().contains(needle), "{target}");
        assert!(head.to_lowercase().contains("x-content-type-options: nosniff"), "{head}");
    }
}

//! The `mnemo-ingress` binary as someone starts it: what its start-up log says, and that a log
//! written anywhere but a terminal is plain text.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the child however the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_start_up_log_names_the_console_and_has_no_colours_in_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_mnemo-ingress"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("DATABASE_URL", format!("sqlite://{}/mnemo.db?mode=rwc", dir.path().display()))
        .env("MEDIA_DIR", dir.path().join("media"))
        .env("BIND_ADDR", "127.0.0.1:0")
        .env("LOCAL_MODELS", "off")
        // The zero-settings defaults otherwise: pretty logs, the console on.
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mnemo-ingress starts");
    let mut child = Running(child);
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    let console = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("console: chat at") => break line,
            Ok(line) => lines.push(line),
            Err(_) => panic!("no console line within 60 s; the log so far:\n{}", lines.join("\n")),
        }
    };
    lines.push(console.clone());
    // The listener's real address (port 0 was asked for).
    let listening = lines
        .iter()
        .find(|l| l.contains("ingress listening"))
        .expect("the listening line comes first");
    let port = listening
        .split("addr=127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .expect("the listening line names the address");
    assert!(
        console.contains(&format!(
            "chat at http://127.0.0.1:{port}/console/chat, dashboard at http://127.0.0.1:{port}/console"
        )),
        "{console}"
    );
    for line in &lines {
        assert!(!line.contains('\u{1b}'), "ANSI escape in a piped log: {line:?}");
    }
}

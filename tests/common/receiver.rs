//! A real HTTP server on 127.0.0.1 standing for a webhook's receiver: it answers each POST as
//! the test says for the alert's message, and records the messages it was sent, in order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long [`Receiver::wait_for`] waits.
const WAIT: Duration = Duration::from_secs(20);

/// What the receiver answers to one alert.
pub struct Answer {
    pub status: u16,
    pub body: &'static str,
    /// Extra header lines, each ending with `\r\n`.
    pub headers: &'static str,
    /// How long it takes before answering.
    pub delay: Duration,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer::status(200)
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            body: "",
            headers: "",
            delay: Duration::ZERO,
        }
    }
}

/// An HTTP server answering each POST as `answer` says for the alert's message, and recording
/// the messages it was sent, in order.
pub struct Receiver {
    pub port: u16,
    messages: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    pub fn start(answer: impl Fn(&str) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let seen = messages.clone();
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (seen, answer) = (seen.clone(), answer.clone());
                // One thread per connection: a slow answer does not hold up the next request.
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    let _ = reader.read_exact(&mut body);
                    let alert: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or_default();
                    let message = alert["message"].as_str().unwrap_or("").to_string();
                    seen.lock().unwrap().push(message.clone());
                    let a = answer(&message);
                    std::thread::sleep(a.delay);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {} X\r\n{}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                        a.status,
                        a.headers,
                        a.body.len(),
                        a.body
                    );
                });
            }
        });
        Receiver { port, messages }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    pub fn count(&self, message: &str) -> usize {
        self.messages().iter().filter(|m| *m == message).count()
    }

    pub fn wait_for(&self, message: &str) {
        let start = Instant::now();
        while self.count(message) == 0 {
            assert!(
                start.elapsed() < WAIT,
                "no {message:?}: got {:?}",
                self.messages()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

//! A headless Chromium (Debian's `chromium` and `chromium-driver`) driven with fantoccini.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

/// A chromedriver process and a WebDriver session on it; both end when dropped.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::start_with(None, false).await
    }

    /// A browser whose time zone is `zone` (an IANA name such as `America/Sao_Paulo`).
    pub async fn start_in_time_zone(zone: &str) -> Browser {
        Browser::start_with(Some(zone), false).await
    }

    /// A browser whose system prefers a dark colour scheme.
    pub async fn start_dark() -> Browser {
        Browser::start_with(None, true).await
    }

    async fn start_with(time_zone: Option<&str>, dark: bool) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let mut command = Command::new(&driver_path);
        if let Some(zone) = time_zone {
            command.env("TZ", zone);
        }
        // Its own process group: dropping the browser ends chromedriver and every Chromium
        // process it started, even when a failing test never closed its session.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let driver = command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {driver_path} (apt-get install chromium chromium-driver): {error}")
            });
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let chrome = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut scheme_flags: Vec<String> = Vec::new();
        if dark {
            scheme_flags.push("--force-dark-mode".into());
            scheme_flags.push("--blink-settings=preferredColorScheme=0".into());
        }
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chrome,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let mut capabilities = capabilities;
        if let Some(args) = capabilities["goog:chromeOptions"]["args"].as_array_mut() {
            args.extend(scheme_flags.into_iter().map(serde_json::Value::from));
        }
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("a JSON object"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::native()
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => {
                    panic!("chromedriver did not accept a session within 30 s: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// Ends the session cleanly; the driver is killed on drop either way.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

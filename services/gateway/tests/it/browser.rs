//! A real browser: headless Chromium driven through ChromeDriver. Every page a test visits
//! is checked with axe-core (WCAG 2.2 A and AA, no violations allowed) and photographed at
//! desktop and phone widths under `<target>/tmp/screenshots/<test>/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
    base: String,
    screenshots: PathBuf,
    axe: String,
    shot: usize,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Also on a failed assertion: no browser outlives its test.
        let _ = self.driver.start_kill();
        let _ = std::process::Command::new("pkill")
            .arg("-f")
            .arg(self.profile.to_string_lossy().as_ref())
            .status();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn axe_source() -> String {
    let path = std::env::var("WAYMARK_AXE_JS").expect(
        "WAYMARK_AXE_JS must name axe.min.js (axe-core from npm); ./scripts/test installs it and sets it",
    );
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

impl Browser {
    pub async fn start(base: &str, test: &str) -> Self {
        let axe = axe_source();
        let chromium =
            std::env::var("WAYMARK_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let chromedriver = std::env::var("WAYMARK_CHROMEDRIVER")
            .unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let port = waymark_testkit::free_port();
        // The browser keeps the real clock even when `scripts/test` moves this process's
        // with libfaketime: it only shows pages (every date comes from the server), and
        // Chromium does not start under libfaketime.
        let driver = Command::new(&chromedriver)
            .env_remove("LD_PRELOAD")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {chromedriver} (install chromium-driver): {error}")
            });
        let profile = std::env::temp_dir().join(format!(
            "waymark-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-extensions",
                    "--lang=en-GB", format!("--user-data-dir={}", profile.display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut client = None;
        for _ in 0..50 {
            match ClientBuilder::rustls()
                .unwrap()
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(connected) => {
                    client = Some(connected);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let client = client.expect("ChromeDriver did not start a browser");
        let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("screenshots")
            .join(test);
        // Each run's pictures only.
        let _ = std::fs::remove_dir_all(&screenshots);
        std::fs::create_dir_all(&screenshots).unwrap();
        Self {
            client,
            driver,
            profile,
            base: base.to_owned(),
            screenshots,
            axe,
            shot: 0,
        }
    }

    /// Opens one of our pages and checks it.
    pub async fn visit(&mut self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.check().await;
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// A form field's current value.
    pub async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no field {css}"))
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Whether a checkbox or radio button is ticked.
    pub async fn checked(&self, css: &str) -> bool {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no field {css}"))
            .prop("checked")
            .await
            .unwrap()
            .is_some_and(|checked| checked == "true")
    }

    pub async fn text(&self) -> String {
        self.client
            .find(Locator::Css("body"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The page passes axe-core, and is photographed at both widths.
    pub async fn check(&mut self) {
        let path = self.path().await;
        self.client.execute(&self.axe, vec![]).await.unwrap();
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
                    .then(r => done(r.violations.map(v => ({ id: v.id, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')) }))))
                    .catch(e => done([{ id: 'axe-error', help: String(e), nodes: [] }]));",
                vec![],
            )
            .await
            .unwrap();
        let violations = result.as_array().cloned().unwrap_or_default();
        assert!(
            violations.is_empty(),
            "axe-core found accessibility problems on {path}: {}",
            serde_json::to_string_pretty(&violations).unwrap()
        );
        self.shot += 1;
        let name = format!(
            "{:02}-{}",
            self.shot,
            path.trim_start_matches('/')
                .split('?')
                .next()
                .unwrap_or("")
                .replace('/', "_")
        );
        let name = if name.ends_with('-') {
            format!("{name}home")
        } else {
            name
        };
        for (label, (width, height)) in [("desktop", DESKTOP), ("phone", PHONE)] {
            self.client.set_window_size(width, height).await.unwrap();
            let png = self.client.screenshot().await.unwrap();
            std::fs::write(self.screenshots.join(format!("{name}-{label}.png")), png).unwrap();
        }
        self.client
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .unwrap();
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no field {css}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Chooses a file in a file input (`path` on this machine).
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no file input {css}"))
            .send_keys(&path.to_string_lossy())
            .await
            .unwrap();
    }

    /// Types an ISO date into a date input's day, month and year boxes.
    pub async fn set_date(&self, css: &str, iso: &str) {
        let mut parts = iso.splitn(3, '-');
        let (year, month, day) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        self.fill(css, day).await;
        self.fill(&format!("{css}-month"), month).await;
        self.fill(&format!("{css}-year"), year).await;
    }

    /// Reloads the page until `text` shows (for effects that arrive asynchronously).
    pub async fn wait_for_text(&mut self, path: &str, text: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.client
                .goto(&format!("{}{path}", self.base))
                .await
                .unwrap();
            if self.text().await.contains(text) {
                self.check().await;
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "“{text}” never showed on {path}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn choose(&self, css: &str, value: &str) {
        let select = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no select {css}"));
        select.select_by_value(value).await.unwrap();
    }

    pub async fn tick(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("no checkbox {css}"))
            .click()
            .await
            .unwrap();
    }

    /// Clicks a button (by its text), checks the page it leads to, and fails if that page
    /// reports a problem: a journey's every step is meant to succeed.
    pub async fn press(&mut self, label: &str) {
        self.press_at(&format!("//button[normalize-space()=\"{label}\"]"))
            .await;
    }

    /// As `press`, for the button an XPath finds (where several share a label).
    pub async fn press_at(&mut self, xpath: &str) {
        let here = self.click(xpath).await;
        if let Some(problem) = self.problem().await {
            panic!("pressing {xpath} on {here} was refused: {problem}");
        }
    }

    /// Clicks a button expecting the page to refuse it; returns the problem it reports.
    pub async fn press_refused(&mut self, label: &str) -> String {
        let here = self
            .click(&format!("//button[normalize-space()=\"{label}\"]"))
            .await;
        self.problem()
            .await
            .unwrap_or_else(|| panic!("pressing “{label}” on {here} was not refused"))
    }

    async fn click(&mut self, xpath: &str) -> String {
        let here = self.path().await;
        let button = self
            .client
            .find(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|_| panic!("no button {xpath} on {here}"));
        self.leaving().await;
        button.click().await.unwrap();
        self.settle().await;
        self.check().await;
        here
    }

    /// The text of the page's error summary, if it has one.
    async fn problem(&self) -> Option<String> {
        let summary = self
            .client
            .find(Locator::Css(".error-summary"))
            .await
            .ok()?;
        Some(summary.text().await.unwrap_or_default())
    }

    /// Clicks a button without checking the page it leads to (someone else's page).
    pub async fn press_only(&self, label: &str) {
        let xpath = format!("//button[normalize-space()=\"{label}\"]");
        self.leaving().await;
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no button “{label}”"))
            .click()
            .await
            .unwrap();
        self.settle().await;
    }

    /// Follows a link (by its text) and checks the page.
    pub async fn follow(&mut self, text: &str) {
        let xpath = format!("//a[contains(normalize-space(), \"{text}\")]");
        let link = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no link “{text}”"));
        self.leaving().await;
        link.click().await.unwrap();
        self.settle().await;
        self.check().await;
    }

    /// Opens a `<details>` by its summary text.
    pub async fn open(&self, summary: &str) {
        let xpath = format!("//summary[normalize-space()=\"{summary}\"]");
        let summary = self
            .client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|_| panic!("no “{summary}”"));
        let open = summary
            .find(Locator::XPath(".."))
            .await
            .unwrap()
            .attr("open")
            .await
            .unwrap();
        if open.is_none() {
            summary.click().await.unwrap();
        }
    }

    /// Marks the page about to be left, so that `settle` can tell the next one from it.
    async fn leaving(&self) {
        self.client
            .execute("document.documentElement.dataset.left = 'yes';", vec![])
            .await
            .unwrap();
    }

    /// Waits until a click has led to a new page and it has loaded: a click returns before
    /// the browser has even started to navigate.
    async fn settle(&self) {
        for _ in 0..200 {
            let arrived = self
                .client
                .execute(
                    "return document.documentElement.dataset.left !== 'yes' \
                     && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(arrived, Ok(Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let path = self.path().await;
        panic!("the click on {path} led to no new page within 10 s");
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) {
        self.visit("/sign-in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.press("Sign in").await;
    }

    pub async fn sign_out(&mut self) {
        self.press("Sign out").await;
    }

    pub async fn close(self) {
        let client = self.client.clone();
        client.close().await.unwrap();
    }
}

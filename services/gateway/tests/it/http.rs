//! A plain HTTP client that behaves like a browser where it matters here: it keeps the
//! session cookie, sends our Origin, and posts forms with their CSRF token.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};

pub struct Response {
    pub status: StatusCode,
    pub location: String,
    pub body: String,
    pub content_type: String,
    pub disposition: String,
    pub bytes: Vec<u8>,
}

pub struct Client {
    http: reqwest::Client,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: String,
    /// The client address it claims (the `x-test-client` header the test stack trusts).
    pub address: Option<String>,
}

impl Client {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: base.to_owned(),
            cookie: None,
            csrf: String::new(),
            address: None,
        }
    }

    /// A client that comes from `address`, as a reverse proxy would report it.
    pub fn from_address(base: &str, address: &str) -> Self {
        let mut client = Self::new(base);
        client.address = Some(address.to_owned());
        client
    }

    /// Signs in with a local password and picks up the CSRF token from the home page.
    pub async fn signed_in(base: &str, email: &str, password: &str) -> Self {
        let mut client = Self::new(base);
        let response = client
            .post_form("/sign-in", &[("email", email), ("password", password)])
            .await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "sign-in failed: {}",
            response.body
        );
        let home = client.get("/").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        client.csrf = hidden(&home.body, "_csrf").expect("a CSRF token on the page");
        client
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Response {
        let request = match &self.cookie {
            Some(cookie) => request.header(COOKIE, cookie),
            None => request,
        };
        let request = match &self.address {
            Some(address) => request.header("x-test-client", address),
            None => request,
        };
        let response = request.send().await.unwrap();
        for value in response.headers().get_all(SET_COOKIE) {
            let pair = value
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            if pair.ends_with('=') {
                self.cookie = None;
            } else {
                self.cookie = Some(pair);
            }
        }
        let status = response.status();
        let location = response
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let disposition = response
            .headers()
            .get("content-disposition")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap().to_vec();
        let body = String::from_utf8_lossy(&bytes).into_owned();
        Response {
            status,
            location,
            body,
            content_type,
            disposition,
            bytes,
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// Posts a form as our own pages do: our Origin and the session's CSRF token.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("_csrf", &csrf));
        self.post_form(path, &all).await
    }

    pub async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .form(fields);
        self.send(request).await
    }

    /// Uploads a file as our pages' file forms do: multipart, the token in the address.
    pub async fn upload(
        &mut self,
        path: &str,
        command_id: &str,
        file_name: &str,
        content: &[u8],
    ) -> Response {
        let boundary = format!("----waymark{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"command_id\"\r\n\r\n{command_id}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = self
            .http
            .post(format!("{}{path}?_csrf={}", self.base, self.csrf))
            .header(ORIGIN, &self.base)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        self.send(request).await
    }

    /// Posts a form as htmx does from our pages (with `HX-Request`).
    pub async fn post_htmx(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        let csrf = self.csrf.clone();
        all.push(("_csrf", &csrf));
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, &self.base)
            .header("HX-Request", "true")
            .form(&all);
        self.send(request).await
    }

    /// A POST without our Origin (as a cross-site form would send it).
    pub async fn post_from(
        &mut self,
        origin: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Response {
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(ORIGIN, origin)
            .form(fields);
        self.send(request).await
    }
}

/// The value of a hidden input on a page.
pub fn hidden(page: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(page[start..start + end].to_owned())
}

/// The path a redirect goes to, whether absolute or not.
pub fn path_of(location: &str, base: &str) -> String {
    location.strip_prefix(base).unwrap_or(location).to_owned()
}

/// The first `<option value="…">` of a `<select id="…">`.
pub fn first_option(page: &str, select: &str) -> String {
    let start = page.find(&format!("id=\"{select}\"")).expect("the select");
    let rest = &page[start..];
    let value = rest.find("<option value=\"").unwrap() + "<option value=\"".len();
    rest[value..value + rest[value..].find('"').unwrap()].to_owned()
}

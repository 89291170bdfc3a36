//! Where files live outside the database: a local directory on one machine, an S3-compatible
//! bucket in production. A service reads its own section, e.g. `audit.anchors`:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `url` | `file:///absolute/dir` or `s3://bucket` (optionally `s3://bucket/prefix`) | set by the service |
//! | `endpoint` | an S3-compatible server's address; empty for AWS itself | none |
//! | `region` | the bucket's region | `us-east-1` |
//! | `access_key_id`, `secret_access_key` (secret) | credentials; otherwise the usual `AWS_*` variables | none |
//!
//! A plain-http endpoint is accepted only with `network.allow_loopback` (tests, one machine).

use std::sync::Arc;

use object_store::DynObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use serde::Deserialize;
use url::Url;

use crate::Secret;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectStoreConfig {
    pub url: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] object_store::Error),
}

/// Opens the store a section names. `allow_http` lets an S3 endpoint be plain http.
pub fn open(
    config: &ObjectStoreConfig,
    allow_http: bool,
) -> Result<Arc<DynObjectStore>, ObjectStoreError> {
    let bad = |why: &str| ObjectStoreError::Config(format!("object store `{}`: {why}", config.url));
    let url = Url::parse(&config.url).map_err(|error| bad(&error.to_string()))?;
    match url.scheme() {
        "file" => {
            let dir = url
                .to_file_path()
                .map_err(|()| bad("not an absolute local path"))?;
            std::fs::create_dir_all(&dir).map_err(|error| bad(&error.to_string()))?;
            Ok(Arc::new(LocalFileSystem::new_with_prefix(dir)?))
        }
        "s3" => {
            let bucket = url.host_str().ok_or_else(|| bad("no bucket named"))?;
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_region(config.region.as_deref().unwrap_or("us-east-1"));
            if let Some(endpoint) = &config.endpoint {
                let http = endpoint.starts_with("http://");
                if http && !allow_http {
                    return Err(bad("a plain-http endpoint needs network.allow_loopback"));
                }
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(http)
                    .with_virtual_hosted_style_request(false);
            }
            if let Some(key) = &config.access_key_id {
                builder = builder.with_access_key_id(key);
            }
            if let Some(secret) = &config.secret_access_key {
                builder = builder.with_secret_access_key(secret.expose());
            }
            let store: Arc<DynObjectStore> = Arc::new(builder.build()?);
            let prefix = url.path().trim_matches('/');
            Ok(if prefix.is_empty() {
                store
            } else {
                Arc::new(PrefixStore::new(store, Path::from(prefix)))
            })
        }
        other => Err(bad(&format!(
            "`{other}` is not a kind of store Waymark knows (file or s3)"
        ))),
    }
}

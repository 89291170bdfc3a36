//! Starting the real services in-process: each test gets its own database, its own ports
//! (bound on port 0) and, when it asks for one, its own nats-server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use uuid::Uuid;
use waymark_domain::ids::ActorId;
use waymark_domain::{StaffId, TrustId};
use waymark_runtime::auth::{CallAs, Caller};
use waymark_runtime::{Clock, Config, Platform};

use crate::TestDatabase;

/// The signing key every test platform shares.
pub const TEST_KEY: &str = "test-internal-key-0123456789abcdef0123456789";

/// A platform on a fresh database, with the core schemas migrated and, if `nats` is given,
/// the relay running.
pub struct TestPlatform {
    pub db: TestDatabase,
    pub platform: Arc<Platform>,
    pub shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl TestPlatform {
    /// On the tests' clock ([`crate::time::clock`]).
    pub async fn start(nats_url: Option<String>) -> Self {
        Self::start_with_clock(nats_url, Arc::new(crate::time::clock())).await
    }

    pub async fn start_with_clock(nats_url: Option<String>, clock: Arc<dyn Clock>) -> Self {
        Self::start_configured(nats_url, clock, &[]).await
    }

    /// With extra configuration values, e.g. `("action_tracking.url", …)` for a service
    /// whose listener the test bound beforehand.
    pub async fn start_configured(
        nats_url: Option<String>,
        clock: Arc<dyn Clock>,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start_on(TestDatabase::create().await, nats_url, clock, extra).await
    }

    /// On a database the test made (on a server of its own, say).
    pub async fn start_on(
        db: TestDatabase,
        nats_url: Option<String>,
        clock: Arc<dyn Clock>,
        extra: &[(&str, &str)],
    ) -> Self {
        // Evidence files go to a directory of this test's own, unless the test names a store.
        let evidence = format!(
            "file://{}/waymark-evidence/{}",
            std::env::temp_dir().display(),
            db.name
        );
        let mut values = vec![
            ("database.url", db.url.as_str()),
            ("evidence.files.url", evidence.as_str()),
            ("auth.internal_key", TEST_KEY),
            // Webhook receivers and identity providers in tests listen on 127.0.0.1.
            ("network.allow_loopback", "true"),
        ];
        values.extend_from_slice(extra);
        if let Some(url) = &nats_url {
            values.push(("nats.url", url.as_str()));
        }
        let config = Config::with(&values).expect("test configuration");
        // Logs show with --no-capture; RUST_LOG picks the level.
        waymark_runtime::telemetry::init_tracing(&config);
        let platform = Platform::connect(config, clock)
            .await
            .expect("connect test platform");
        platform.migrate_core().await.expect("migrate core schemas");
        let shutdown = CancellationToken::new();
        let mut tasks = Vec::new();
        if let Some(relay) = platform.spawn_relay(shutdown.clone()) {
            tasks.push(relay);
        }
        Self {
            db,
            platform,
            shutdown,
            tasks,
        }
    }

    /// Starts a service's `run` on a port of its own; returns its address once it listens.
    pub async fn serve<F, Fut>(&mut self, run: F) -> SocketAddr
    where
        F: FnOnce(Arc<Platform>, TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let (address, task) = self.serve_until(run, self.shutdown.clone()).await;
        self.tasks.push(task);
        address
    }

    /// Runs a service on a listener the test bound itself (so its address could go into
    /// the configuration first).
    pub fn serve_on<F, Fut>(&mut self, listener: TcpListener, run: F)
    where
        F: FnOnce(Arc<Platform>, TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let running = run(self.platform.clone(), listener, self.shutdown.clone());
        self.tasks.push(tokio::spawn(async move {
            if let Err(error) = running.await {
                panic!("service failed: {error:#}");
            }
        }));
    }

    /// Like [`serve`](Self::serve), stopped by its own token: for restarting one service.
    pub async fn serve_until<F, Fut>(
        &self,
        run: F,
        stop: CancellationToken,
    ) -> (SocketAddr, JoinHandle<()>)
    where
        F: FnOnce(Arc<Platform>, TcpListener, CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let address = listener.local_addr().expect("local address");
        let running = run(self.platform.clone(), listener, stop);
        let task = tokio::spawn(async move {
            if let Err(error) = running.await {
                panic!("service failed: {error:#}");
            }
        });
        (address, task)
    }

    /// A gRPC channel to `address` whose requests are signed as `caller`; over TLS when the
    /// services serve it (`grpc.cert_file`).
    pub fn client(
        &self,
        address: SocketAddr,
        caller: Caller,
    ) -> InterceptedService<Channel, CallAs> {
        let grpc = &self.platform.config.grpc;
        let scheme = if grpc.cert_file.is_some() {
            "https"
        } else {
            "http"
        };
        let channel = waymark_runtime::grpc::endpoint(&format!("{scheme}://{address}"), grpc)
            .expect("service url")
            .connect_lazy();
        InterceptedService::new(channel, self.platform.call_as(caller))
    }

    /// Stops everything started and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            task.await.expect("service task");
        }
    }
}

/// A caller in a new trust, acting as a new staff member.
pub fn new_caller() -> Caller {
    Caller {
        trust: TrustId::from_uuid(Uuid::new_v4()),
        actor: ActorId::from_uuid(Uuid::new_v4()),
    }
}

/// Another person in the same trust.
pub fn colleague(of: Caller) -> (Caller, StaffId) {
    let id = Uuid::new_v4();
    (
        Caller {
            trust: of.trust,
            actor: ActorId::from_uuid(id),
        },
        StaffId::from_uuid(id),
    )
}

/// The staff id of a caller.
pub fn staff(caller: Caller) -> StaffId {
    StaffId::from_uuid(caller.actor.into_uuid())
}

use std::path::Path;

use waymark_domain::directory::Role;
use waymark_gateway::bootstrap::Bootstrap;
use waymark_runtime::process::Process;

/// Creates a trust with its first school and its administrator, and prints the
/// administrator's invitation link (the only way in for them: no password is set here).
pub async fn create(
    config: Option<&Path>,
    trust_name: &str,
    schools: &[String],
    admin_name: &str,
    admin_email: &str,
) -> anyhow::Result<()> {
    let process = Process::start(config).await?;
    let bootstrap = Bootstrap::new(process.platform.clone()).await?;
    let trust = bootstrap.create_trust(trust_name).await?;
    for school in schools {
        bootstrap.add_school(trust, school).await?;
    }
    let admin = bootstrap
        .add_person(trust, admin_name, admin_email, &[(None, Role::TrustAdmin)])
        .await?;
    let link = bootstrap.invite(trust, admin).await?;
    println!("trust {trust} created: {trust_name}");
    println!("{admin_name} sets up their sign-in here (valid 14 days, once):\n  {link}");
    drop(bootstrap);
    process.finish().await;
    Ok(())
}

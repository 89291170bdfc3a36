use std::path::Path;
use std::time::Instant;

use waymark_runtime::process::Process;

/// Builds the demonstration trust against the running services and prints who can sign in.
pub async fn build(config: Option<&Path>, options: waymark_demo::Options) -> anyhow::Result<()> {
    options.check()?;
    let process = Process::start(config).await?;
    let started = Instant::now();
    let demo = waymark_demo::build(process.platform.clone(), &options).await?;
    println!(
        "trust {} built in {:.1} s: {} schools, {} staff, {} progress meetings, {} progress \
         reviews, {} actions",
        demo.trust,
        started.elapsed().as_secs_f64(),
        options.schools,
        demo.staff,
        demo.meetings,
        demo.reviews,
        demo.actions,
    );
    println!(
        "sign in as any of these, with the password {:?}:",
        options.password
    );
    for person in &demo.sign_ins {
        println!("  {:<22} {:<20} {}", person.role, person.name, person.email);
    }
    process.finish().await;
    Ok(())
}

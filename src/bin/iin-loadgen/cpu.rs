//! CPU time spent by processes of this machine, read from `/proc`: what a
//! phase cost in CPU, whatever else the machine was doing meanwhile (on a
//! shared machine the throughput swings with the load, the CPU per item much
//! less).

use std::collections::HashMap;
use std::time::Duration;

/// `/proc` counts CPU time in clock ticks of 1/100 s (`USER_HZ`, fixed on
/// Linux for user space).
const TICK: Duration = Duration::from_millis(10);

/// User plus system CPU time of a process so far.
pub fn of_process(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name (field 2) is in parentheses and may hold spaces;
    // utime and stime are fields 14 and 15, the 12th and 13th after it.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("/proc/{pid}/stat has no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u32, String> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| format!("/proc/{pid}/stat: no field {}", i + 3))
    };
    Ok(TICK * (ticks(11)? + ticks(12)?))
}

/// CPU time of every other PostgreSQL backend connected to the database of
/// `client` (the gateway's pool, or the baseline's connections), read while
/// they are still connected. The server must be on this machine.
pub async fn of_backends(client: &tokio_postgres::Client) -> Result<Duration, String> {
    Ok(by_backend(client).await?.values().sum())
}

/// What the backends connected now spent since `before` was read by
/// [`by_backend`]; a backend that connected since counts from zero, one that
/// has gone since is not counted.
pub async fn of_backends_since(
    client: &tokio_postgres::Client,
    before: &HashMap<i32, Duration>,
) -> Result<Duration, String> {
    Ok(by_backend(client)
        .await?
        .into_iter()
        .map(|(pid, cpu)| cpu.saturating_sub(before.get(&pid).copied().unwrap_or_default()))
        .sum())
}

/// CPU time so far of every other backend connected to the database of
/// `client`, by process id.
pub async fn by_backend(client: &tokio_postgres::Client) -> Result<HashMap<i32, Duration>, String> {
    let rows = client
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| crate::scratch::pg_text(&e))?;
    let mut cpu = HashMap::with_capacity(rows.len());
    for row in rows {
        let pid: i32 = row.get(0);
        // A backend that has just gone has nothing more to count.
        if let Ok(spent) = of_process(pid as u32) {
            cpu.insert(pid, spent);
        }
    }
    Ok(cpu)
}

//! `hitlessctl initiate`: start a connection and, unless told not to, wait until its Child SAs
//! are installed or the attempt fails. The event subscription is opened before the initiate
//! request so that no event can be missed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

use hitless_control::ClientError;
use hitless_control::Event;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::response::ChildSaId;
use hitless_control::response::IkeSaId;
use serde_json::json;

use crate::Failure;
use crate::connect;
use crate::print;
use crate::print_json;

pub(crate) fn initiate(
    socket: &Path,
    connection: &str,
    child: Option<&str>,
    wait: bool,
    timeout_secs: u64,
    json: bool,
) -> Result<(), Failure> {
    let mut watcher = if wait {
        let mut watcher = connect(socket)?;
        watcher
            .call(Request::Subscribe { logs: None })
            .map_err(Failure::from)?;
        Some(watcher)
    } else {
        None
    };
    let mut client = connect(socket)?;
    let response = client
        .call(Request::Initiate {
            connection: connection.to_owned(),
            child: child.map(str::to_owned),
        })
        .map_err(Failure::from)?;
    let Response::Initiated {
        ike_sa: mut ike,
        children,
    } = response
    else {
        return Err(Failure::failed(
            "hitlessd answered initiate with something else",
        ));
    };
    let Some(watcher) = watcher.as_mut() else {
        if json {
            print_json(&json!({"ike_sa": ike, "children": children, "result": "initiating"}));
        } else {
            print(&format!("initiating {connection}: IKE SA {ike}\n"));
        }
        return Ok(());
    };
    if !json {
        print(&format!("initiating {connection}: IKE SA {ike}\n"));
    }
    let mut waiting: BTreeSet<String> = children.iter().cloned().collect();
    let mut installed: Vec<(String, ChildSaId)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    let failure = loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            break Some(format!("{connection} is not up after {timeout_secs} s"));
        }
        watcher
            .set_timeout(Some(remaining))
            .map_err(Failure::from)?;
        let frame = match watcher.next_event() {
            Ok(Some(frame)) => frame,
            Ok(None) => break Some("hitlessd closed the connection".to_owned()),
            Err(ClientError::Timeout(_)) => {
                break Some(format!("{connection} is not up after {timeout_secs} s"));
            }
            Err(error) => return Err(error.into()),
        };
        match progress(&frame.event, &mut ike) {
            Progress::Established(line) => {
                if !json {
                    print(&line);
                }
                if waiting.is_empty() {
                    break None;
                }
            }
            Progress::Installed(name, id, line) if waiting.remove(&name) => {
                if !json {
                    print(&line);
                }
                installed.push((name, id));
                if waiting.is_empty() {
                    break None;
                }
            }
            // Another Child SA of the same IKE SA, not one we wait for.
            Progress::Failed(Some(name), _) if !waiting.contains(&name) => {}
            Progress::Failed(_, message) => break Some(message),
            Progress::Installed(..) | Progress::Unrelated => {}
        }
    };
    if json {
        print_json(&json!({
            "ike_sa": ike,
            "children": children,
            "installed": installed.iter().map(|(name, id)| json!({"name": name, "child_sa": id})).collect::<Vec<_>>(),
            "result": if failure.is_none() { "up" } else { "failed" },
            "error": failure,
        }));
    } else if failure.is_none() {
        print(&format!("{connection} is up\n"));
    }
    match failure {
        None => Ok(()),
        Some(message) => Err(Failure::failed(message)),
    }
}

enum Progress {
    Established(String),
    Installed(String, ChildSaId, String),
    /// A failure; with the Child SA's name when it concerns only one.
    Failed(Option<String>, String),
    Unrelated,
}

/// What an event means for the IKE SA being brought up (following it across an IKE rekey).
fn progress(event: &Event, ike: &mut IkeSaId) -> Progress {
    match event {
        Event::IkeSaEstablished {
            ike_sa,
            remote,
            remote_id,
            ..
        } if ike_sa == ike => Progress::Established(format!(
            "IKE SA {ike_sa} established with {remote_id} at {remote}\n"
        )),
        Event::ChildSaInstalled {
            ike_sa,
            child_sa,
            name,
            spi_in,
            spi_out,
            ..
        } if ike_sa == ike => Progress::Installed(
            name.clone(),
            *child_sa,
            format!("Child SA {child_sa} {name} installed, SPIs {spi_in} in / {spi_out} out\n"),
        ),
        Event::ChildSaFailed {
            ike_sa,
            name,
            error,
        } if ike_sa == ike => Progress::Failed(
            Some(name.clone()),
            format!("Child SA {name} failed: {error}"),
        ),
        Event::IkeSaFailed {
            ike_sa: Some(ike_sa),
            error,
            ..
        } if ike_sa == ike => Progress::Failed(None, format!("IKE SA {ike_sa} failed: {error}")),
        Event::IkeSaDeleted { ike_sa, reason, .. } if ike_sa == ike => Progress::Failed(
            None,
            format!("IKE SA {ike_sa} was deleted before it was up: {reason}"),
        ),
        Event::IkeSaRekeyed { old, new, .. } if old == ike => {
            *ike = *new;
            Progress::Unrelated
        }
        _ => Progress::Unrelated,
    }
}

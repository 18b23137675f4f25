//! Fuzzing entry points (`fuzz/fuzz_targets/ha_message.rs`), also replayed over the committed
//! corpus by `cargo test` on stable.

use std::sync::Arc;
use std::time::Duration;

use hitless_crypto::CryptoProvider;
use hitless_crypto::SecretBytes;
use hitless_ike::Endpoint;

use crate::config::HaConfig;
use crate::config::NodeId;
use crate::message;
use crate::node::HaNode;
use crate::status::Role;
use crate::tlv::Writer;

/// The `ha_message` target.
///
/// First the record codec alone: whatever decodes must encode and decode again to the same
/// records (nothing corrupt, nothing unknown the second time). Then a whole node: `data` is a
/// role script byte followed by datagrams, each a big-endian 16-bit length and its bytes,
/// delivered from member 1 to node 2 ten milliseconds apart. With the NO SECURITY fuzzing
/// provider (identity AEAD, every tag verifies) the fuzzer reaches session verification, the
/// ordered stream, every record type, takeover and demotion. Nothing may panic.
///
/// # Panics
///
/// When a round trip changes the records (a codec bug).
pub fn ha_message(provider: Arc<CryptoProvider>, data: &[u8]) {
    round_trip(data);
    let Some((&script, mut rest)) = data.split_first() else {
        return;
    };
    let mut now = crate::test_support::origin();
    let config = HaConfig::new(NodeId(2), vec![NodeId(1)], SecretBytes::new(vec![0x42; 32]));
    let Ok(mut node) = HaNode::new(config, Arc::clone(&provider), now) else {
        return;
    };
    let engine = Endpoint::new(Arc::new(hitless_ike::Config::default()), provider);
    let mut step = 0u32;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_be_bytes(*len)).min(tail.len());
        let (datagram, tail) = tail.split_at(len);
        rest = tail;
        round_trip(
            datagram
                .get(crate::channel::HEADER_LEN..)
                .unwrap_or_default(),
        );
        let _ = node.handle_sync(now, datagram);
        drain(&mut node);
        if script & (1 << (step % 8)) != 0 {
            let role = match node.role() {
                Role::Active => Role::Standby,
                _ => Role::Active,
            };
            node.set_role(now, role, &engine);
            drain(&mut node);
        }
        now += Duration::from_millis(10);
        node.handle_timeout(now);
        drain(&mut node);
        step += 1;
    }
    let _ = node.status(now);
}

/// Decodes, encodes and decodes again; the records must survive unchanged.
fn round_trip(plaintext: &[u8]) {
    let decoded = message::decode(plaintext);
    let mut w = Writer::new();
    for record in &decoded.records {
        // A record that decoded fits its 16-bit length again.
        #[allow(clippy::expect_used)]
        record.write(&mut w).expect("a decoded record encodes");
    }
    let again = message::decode(&w.into_bytes());
    assert_eq!(
        again.records, decoded.records,
        "records changed in a round trip"
    );
    assert_eq!(again.corrupt, 0);
    assert_eq!(again.unknown, 0);
}

fn drain(node: &mut HaNode) {
    while node.poll_output().is_some() {}
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::output::HaOutput;
    use crate::test_support::sample_snapshot;

    fn corpus_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ha_message")
    }

    /// A conversation from member 1 (active, with two IKE SAs and checkpoints) to node 2,
    /// with the fuzzing provider, in the target's input format.
    fn seed_conversation(script: u8, with_state: bool) -> Vec<u8> {
        let provider = || Arc::new(hitless_crypto_insecure::fuzzing_provider());
        let mut now = crate::test_support::origin();
        let secret = SecretBytes::new(vec![0x42; 32]);
        let mut a = HaNode::new(
            HaConfig::new(NodeId(1), vec![NodeId(2)], secret.clone()),
            provider(),
            now,
        )
        .unwrap();
        let mut b = HaNode::new(
            HaConfig::new(NodeId(2), vec![NodeId(1)], secret),
            provider(),
            now,
        )
        .unwrap();
        let engine = Endpoint::new(Arc::new(hitless_ike::Config::default()), provider());
        a.set_role(now, Role::Active, &engine);
        let mut input = vec![script];
        for round in 0..30 {
            if with_state && round == 10 {
                a.publish_snapshot(now, sample_snapshot(1));
                a.publish_snapshot(now, sample_snapshot(2));
                a.handle_backend_event(
                    now,
                    &hitless_sadb::BackendEvent::SequenceCheckpoint {
                        spi: sample_snapshot(1).children[0].spi_out,
                        direction: hitless_sadb::Direction::Outbound,
                        sequence: 5000,
                    },
                );
            }
            if with_state && round == 20 {
                a.sync_delete(sample_snapshot(2).spis);
            }
            while let Some(output) = a.poll_output() {
                if let HaOutput::Send(t) = output {
                    input.extend_from_slice(&u16::try_from(t.payload.len()).unwrap().to_be_bytes());
                    input.extend_from_slice(&t.payload);
                    let _ = b.handle_sync(now, &t.payload);
                }
            }
            while let Some(output) = b.poll_output() {
                if let HaOutput::Send(t) = output {
                    let _ = a.handle_sync(now, &t.payload);
                }
            }
            now += Duration::from_millis(10);
            a.handle_timeout(now);
            b.handle_timeout(now);
        }
        input
    }

    /// The seeds reach the interesting states: the target node verifies member 1, becomes
    /// ready and imports the SAs.
    #[test]
    fn seeds_reach_the_state_machine() {
        let seed = seed_conversation(0, true);
        ha_message(Arc::new(hitless_crypto_insecure::fuzzing_provider()), &seed);
        // Replay by hand to look at the node (a fresh provider: the same random stream).
        let provider = Arc::new(hitless_crypto_insecure::fuzzing_provider());
        let mut now = crate::test_support::origin();
        let mut node = HaNode::new(
            HaConfig::new(NodeId(2), vec![NodeId(1)], SecretBytes::new(vec![0x42; 32])),
            provider,
            now,
        )
        .unwrap();
        let mut rest = &seed[1..];
        let mut imports = 0;
        while let Some((len, tail)) = rest.split_first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes(*len));
            let _ = node.handle_sync(now, &tail[..len]);
            rest = &tail[len..];
            while let Some(output) = node.poll_output() {
                imports += usize::from(matches!(output, HaOutput::Import(_)));
            }
            now += Duration::from_millis(10);
            node.handle_timeout(now);
            while node.poll_output().is_some() {}
        }
        assert!(imports >= 2, "{imports} imports");
        assert_eq!(node.ike_sas().len(), 1);
        assert!(node.is_ready());
    }

    /// Replays the committed corpus of the `ha_message` fuzz target.
    #[test]
    fn corpus_replays_without_panics() {
        let dir = corpus_dir();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("corpus {} missing: {error}", dir.display()));
        let mut count = 0;
        for entry in entries {
            let data = std::fs::read(entry.unwrap().path()).unwrap();
            ha_message(Arc::new(hitless_crypto_insecure::fuzzing_provider()), &data);
            count += 1;
        }
        assert!(count >= 4, "only {count} corpus entries");
    }

    /// Writes the seeds into the corpus directory:
    /// `cargo test -p hitless-ha write_seed_corpus -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/corpus/ha_message; run by hand"]
    fn write_seed_corpus() {
        let dir = corpus_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let seeds = [
            seed_conversation(0, true),
            seed_conversation(0, false),
            seed_conversation(0b0100_0000, true),
            seed_conversation(0b1010_0101, true),
        ];
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:02}")), seed).unwrap();
        }
        // The plaintext records alone, for the codec half of the target.
        let mut w = Writer::new();
        message::Record::IkeSa(Box::new(message::SaRecord {
            snapshot: sample_snapshot(9),
            lazy_ids: true,
        }))
        .write(&mut w)
        .unwrap();
        std::fs::write(dir.join("seed-records"), &*w.into_bytes()).unwrap();
    }
}

//! rtnetlink in a namespace: a TUN device gets addresses, MTU and link state; routes for
//! traffic selectors are added, replaced and deleted, and the kernel's errors come back typed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test set-up fails loudly

mod common;

use hitless_sys::netlink::{Netlink, Prefix, Route, ifindex};
use hitless_sys::netns::NetNs;
use hitless_sys::{TunConfig, TunDevice};

fn ip_out(ns: &NetNs, args: &[&str]) -> String {
    let o = ns.exec("ip", args).unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn routes_addresses_and_link_state_on_a_tun_device() {
    common::require_privileges();
    let ns = NetNs::create(&format!("sys-nl-{}", std::process::id())).unwrap();
    let dev = ns
        .run(|| {
            let dev = TunDevice::open(&TunConfig {
                name: "hl%d".into(),
                queues: 3,
                offloads: true,
            })
            .unwrap();
            assert_eq!(dev.queues().len(), 3);
            assert!(dev.name().starts_with("hl"), "{}", dev.name());
            let mut nl = Netlink::open().unwrap();
            let i = ifindex(dev.name()).unwrap();
            nl.add_address(
                i,
                Prefix {
                    addr: "10.250.0.1".parse().unwrap(),
                    len: 24,
                },
            )
            .unwrap();
            nl.add_address(
                i,
                Prefix {
                    addr: "fd00:250::1".parse().unwrap(),
                    len: 64,
                },
            )
            .unwrap();
            nl.set_link(i, true, Some(1400)).unwrap();
            let r4 = Route {
                metric: Some(50),
                ..Route::device(
                    Prefix {
                        addr: "10.99.0.0".parse().unwrap(),
                        len: 16,
                    },
                    i,
                )
            };
            let r6 = Route::device(
                Prefix {
                    addr: "fd00:99::".parse().unwrap(),
                    len: 48,
                },
                i,
            );
            nl.add_route(&r4).unwrap();
            nl.add_route(&r6).unwrap();
            let dup = nl.add_route(&r4).unwrap_err();
            assert_eq!(dup.source.raw_os_error(), Some(libc_eexist()), "{dup}");
            nl.replace_route(&r4).unwrap();
            dev
        })
        .unwrap();
    let name = dev.name().to_owned();
    let link = ip_out(&ns, &["link", "show", &name]);
    assert!(link.contains("mtu 1400") && link.contains(",UP"), "{link}");
    assert!(ip_out(&ns, &["addr", "show", &name]).contains("10.250.0.1/24"));
    let routes = ip_out(&ns, &["route", "show"]);
    assert!(
        routes.contains(&format!("10.99.0.0/16 dev {name}")) && routes.contains("metric 50"),
        "{routes}"
    );
    assert!(ip_out(&ns, &["-6", "route", "show"]).contains(&format!("fd00:99::/48 dev {name}")));
    ns.run(|| {
        let mut nl = Netlink::open().unwrap();
        let i = ifindex(&name).unwrap();
        let r4 = Route {
            metric: Some(50),
            ..Route::device(
                Prefix {
                    addr: "10.99.0.0".parse().unwrap(),
                    len: 16,
                },
                i,
            )
        };
        nl.delete_route(&r4).unwrap();
        let gone = nl.delete_route(&r4).unwrap_err();
        assert_eq!(gone.source.raw_os_error(), Some(3), "ESRCH: {gone}");
        nl.delete_address(
            i,
            Prefix {
                addr: "10.250.0.1".parse().unwrap(),
                len: 24,
            },
        )
        .unwrap();
        assert!(ifindex("does-not-exist").is_err());
    })
    .unwrap();
    assert!(!ip_out(&ns, &["route", "show"]).contains("10.99.0.0/16"));
    drop(dev);
}

fn libc_eexist() -> i32 {
    17
}

//! What request classes do to data (the top-level `classes`): an operation per class, named
//! by default ("write" writes), and a value size with its unit; and a call's `op`, which
//! a service sets on each call it makes.

use crate::common::load;
use flashcrowd::topology::model::NodeKind;

const MODEL: &str = r#"Topology(duration: "2s", seed: 1,
    workloads: {"users": Open(rate: "100/s", to: "web", mix: {"read": 0.6, "write": 0.2, "upload": 0.1, "audit": 0.1})},
    components: {
        "web": Service(threads: 8, cpus: 2, cpu: Const("0s"), calls: [
            Call(to: "db", op: Get), Call(to: "db", op: Set, wait: false), Call(to: "db", op: Delete), Call(to: "db"),
        ]),
        "db": Service(threads: 8, cpus: 2, cpu: Const("1ms")),
    },
    classes: {
        "upload": RequestClass(op: Write, size: LogNormal(median: "200KB", p99: "8MiB")),
        "audit": RequestClass(size: Const("1.5MB")),
    },
)"#;

#[test]
fn a_class_named_write_writes_and_others_read_unless_mapped() {
    let topo = load(MODEL);
    let ops: Vec<(&str, bool)> = topo
        .classes
        .iter()
        .map(String::as_str)
        .zip(topo.class_writes.iter().copied())
        .collect();
    assert_eq!(
        ops,
        [
            ("audit", false),
            ("read", false),
            ("upload", true),
            ("write", true)
        ]
    );
}

#[test]
fn a_call_carries_the_op_its_service_names() {
    let topo = load(MODEL);
    let web = topo.nodes.iter().find(|n| n.name == "web").unwrap();
    let NodeKind::Service(s) = &web.kind else {
        panic!("web is a service")
    };
    let ops: Vec<u8> = s.calls.iter().map(|c| c.op).collect();
    // Get, Set, Delete, and the request's own operation.
    assert_eq!(ops, [1, 2, 3, 0]);
    // The model saves and reloads with its classes and ops unchanged.
    let text = flashcrowd::topology::to_ron(&topo.spec).unwrap();
    assert_eq!(load(&text).spec, topo.spec);
}

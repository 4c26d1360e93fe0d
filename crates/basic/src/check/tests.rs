//! The checker on hand-built trees: the rules that do not need source text.
//! `tests/check.rs` covers the same ground on parsed programs.

use super::*;
use crate::ast::{Branch, Ident, If, IfArm, Procedure, StrLit};

fn sp(start: u32) -> Span {
    Span::new(start, start + 1)
}

fn stmt(kind: StmtKind, at: u32) -> Stmt {
    Stmt {
        kind,
        span: sp(at),
        comment: None,
        end_comment: None,
    }
}

fn ident(name: &str, at: u32) -> Ident {
    Ident {
        name: name.to_owned(),
        span: sp(at),
    }
}

fn expr(kind: ExprKind, at: u32) -> Expr {
    Expr { kind, span: sp(at) }
}

fn string(text: &str, at: u32) -> Expr {
    expr(
        ExprKind::Str(StrLit {
            raw: text.to_owned(),
            parts: vec![StrPart::Text(text.to_owned())],
        }),
        at,
    )
}

fn var(name: &str, at: u32) -> Expr {
    expr(ExprKind::Var(ident(name, at)), at)
}

fn bot(name: &str, at: u32) -> StmtKind {
    StmtKind::Bot(BotCall {
        bot: string(name, at),
        action: string("do it", at),
        into: None,
        with: None,
        timeout: None,
        retry: None,
        cache: None,
    })
}

fn step(number: &str, body: Stmt) -> Stmt {
    let at = body.span.start - 1;
    stmt(
        StmtKind::Step(Step {
            number: number.to_owned(),
            number_span: sp(at),
            body: Box::new(body),
        }),
        at,
    )
}

fn workflow(body: Vec<Stmt>, at: u32) -> Stmt {
    stmt(
        StmtKind::Workflow(Workflow {
            name: string("w", at),
            body,
            closed: true,
        }),
        at,
    )
}

fn codes(body: Vec<Stmt>) -> Vec<&'static str> {
    check(&Program { body }, &CheckContext::default())
        .iter()
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn the_headline_shape_is_clean() {
    let approval = StmtKind::HumanApproval(Approval {
        from: Approvers::People(vec![string("manager@company.com", 41)]),
        clauses: vec![Clause {
            kind: ClauseKind::Timeout(expr(ExprKind::Int(1800), 42)),
            span: sp(42),
            own_line: true,
            comment: None,
        }],
    });
    let cond = expr(
        ExprKind::Binary {
            op: crate::ast::BinaryOp::Gt,
            left: Box::new(var("order_amount", 31)),
            right: Box::new(expr(ExprKind::Int(100), 32)),
        },
        31,
    );
    let if_ = StmtKind::If(If {
        arms: vec![IfArm {
            cond,
            body: vec![step("3", stmt(approval, 41))],
            comment: None,
        }],
        else_body: None,
        else_comment: None,
        inline: false,
    });
    let branch = |label: &str, at: u32| Branch {
        leading: vec![],
        label: ident(label, at),
        body: vec![stmt(bot("refund-processor", at + 1), at + 1)],
        inline: true,
        explicit_end: false,
        comment: None,
        span: sp(at),
    };
    let parallel = StmtKind::Parallel(Parallel {
        branches: vec![branch("A", 51), branch("B", 61)],
        join: Join::All,
        trailing: vec![],
    });
    let body = vec![
        step("1", stmt(bot("classifier", 11), 11)),
        step("2", stmt(bot("order-checker", 21), 21)),
        stmt(if_, 30),
        step("4", stmt(parallel, 50)),
        stmt(
            StmtKind::BotShareMemory {
                key: string("k", 70),
                with_bot: string("support-bot-2", 71),
            },
            70,
        ),
    ];
    assert_eq!(codes(vec![workflow(body, 1)]), Vec::<&str>::new());
}

#[test]
fn unreachable_code_is_reported_once_per_stretch_and_a_label_ends_it() {
    let body = vec![
        stmt(StmtKind::Return(None), 1),
        stmt(StmtKind::Print(string("a", 3)), 3),
        stmt(StmtKind::Blank, 4),
        stmt(StmtKind::Print(string("b", 5)), 5),
        stmt(StmtKind::Label(ident("again", 6)), 6),
        stmt(StmtKind::Print(string("c", 7)), 7),
        stmt(StmtKind::Goto(ident("again", 8)), 8),
        stmt(
            StmtKind::Comment(crate::ast::Comment {
                marker: crate::ast::CommentMarker::Quote,
                text: "x".into(),
            }),
            9,
        ),
        stmt(StmtKind::Print(string("d", 10)), 10),
    ];
    let diagnostics = check(&Program { body }, &CheckContext::default());
    let found: Vec<(&str, u32)> = diagnostics
        .iter()
        .map(|d| (d.code.as_str(), d.span.start))
        .collect();
    assert_eq!(found, [("W006", 3), ("W006", 10)]);
}

#[test]
fn steps_outside_workflows_and_block_bodies_are_errors() {
    let inline_if = stmt(
        StmtKind::If(If {
            arms: vec![IfArm {
                cond: expr(ExprKind::Bool(true), 3),
                body: vec![],
                comment: None,
            }],
            else_body: None,
            else_comment: None,
            inline: true,
        }),
        3,
    );
    assert_eq!(codes(vec![step("1", stmt(bot("b", 2), 2))]), ["E007"]);
    assert_eq!(
        codes(vec![workflow(vec![step("1", inline_if)], 1)]),
        ["E022"]
    );
    assert_eq!(
        codes(vec![workflow(vec![step("1", stmt(StmtKind::Blank, 3))], 1)]),
        ["E022"]
    );
}

#[test]
fn procedures_reset_the_loop_and_workflow_context() {
    let sub = |at: u32, body: Vec<Stmt>| {
        stmt(
            StmtKind::Sub(Procedure {
                name: ident("s", at),
                params: vec![ident("p", at)],
                body,
            }),
            at,
        )
    };
    let exit = stmt(StmtKind::Exit(LoopKind::For), 5);
    let in_loop = stmt(
        StmtKind::ForEach {
            var: ident("x", 3),
            iterable: var("p", 3),
            body: vec![sub(4, vec![exit])],
        },
        3,
    );
    // `p` is read outside its SUB (W001); the nested SUB is E019; the EXIT FOR
    // inside it is outside any loop (E016).
    assert_eq!(codes(vec![in_loop]), ["W001", "E019", "E016"]);
    // Inside its procedure, a parameter is assigned; outside it is not.
    let read = stmt(StmtKind::Print(var("P", 2)), 2);
    assert_eq!(codes(vec![sub(1, vec![read.clone()])]), Vec::<&str>::new());
    assert_eq!(codes(vec![read]), ["W001"]);
}

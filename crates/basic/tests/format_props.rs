//! Property tests of the formatter: random well-formed trees, in the shape the
//! parser produces, must format to text that parses without diagnostics back
//! to the same tree (spans aside), and formatting must be idempotent.

mod common;

use basic::ast::*;
use basic::{Span, format, parse};
use common::without_spans;
use proptest::prelude::*;
use proptest::strategy::Union;
use proptest::test_runner::TestRunner;

// ---- Expressions --------------------------------------------------------------

fn e(kind: ExprKind) -> Expr {
    Expr {
        kind,
        span: Span::default(),
    }
}

fn ident(name: impl Into<String>) -> Ident {
    Ident {
        name: name.into(),
        span: Span::default(),
    }
}

/// Identifiers that are no keyword of the language.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..40).prop_map(|n| format!("v{n}")),
        prop::sample::select(vec![
            "order_amount",
            "total",
            "Customer",
            "items_list",
            "approval",
            "x1",
            "myVar"
        ])
        .prop_map(str::to_string),
    ]
}

fn var() -> impl Strategy<Value = Expr> {
    name().prop_map(|n| e(ExprKind::Var(ident(n))))
}

/// Raw string text without `"`, `\`, `$` or line breaks: raw and decoded text are the same.
fn raw_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.!?:;'_{}()#@/*+=-]{0,12}"
}

fn str_lit(raw: String) -> StrLit {
    let parts = if raw.is_empty() {
        Vec::new()
    } else {
        vec![StrPart::Text(raw.clone())]
    };
    StrLit { raw, parts }
}

fn string() -> impl Strategy<Value = Expr> {
    raw_text().prop_map(|raw| e(ExprKind::Str(str_lit(raw))))
}

fn number() -> impl Strategy<Value = Expr> {
    prop_oneof![
        (0i64..1000).prop_map(|n| e(ExprKind::Int(n))),
        (0i64..=i64::MAX).prop_map(|n| e(ExprKind::Int(n))),
        (0u32..100_000).prop_map(|n| e(ExprKind::Float(f64::from(n) / 100.0))),
        (0.0f64..1e12).prop_map(|f| e(ExprKind::Float(f))),
    ]
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => var(),
        2 => number(),
        2 => string(),
        1 => any::<bool>().prop_map(|b| e(ExprKind::Bool(b))),
        1 => Just(e(ExprKind::Null)),
    ]
}

const ATOM: u8 = u8::MAX;

/// How tightly an expression's text holds together (the formatter's rule).
fn power(expr: &Expr) -> u8 {
    match &expr.kind {
        ExprKind::Binary { op, .. } => op.precedence(),
        ExprKind::In { .. } => IN_PRECEDENCE,
        ExprKind::Unary {
            op: UnaryOp::Neg, ..
        } => NEG_PRECEDENCE,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        } => NOT_PRECEDENCE,
        _ => ATOM,
    }
}

fn paren(expr: Expr) -> Expr {
    e(ExprKind::Paren(Box::new(expr)))
}

/// Wraps `expr` in `Paren` when its text would not hold together at `min`: the
/// formatter would add the parentheses, and the parser would keep them.
fn at_least(expr: Expr, min: u8) -> Box<Expr> {
    Box::new(if power(&expr) < min {
        paren(expr)
    } else {
        expr
    })
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    let p = op.precedence();
    let (left_min, right_min) = if op == BinaryOp::Pow {
        (p + 1, p)
    } else {
        (p, p + 1)
    };
    e(ExprKind::Binary {
        op,
        left: at_least(left, left_min),
        right: at_least(right, right_min),
    })
}

fn unary(op: UnaryOp, operand: Expr) -> Expr {
    let min = if op == UnaryOp::Neg {
        NEG_PRECEDENCE
    } else {
        NOT_PRECEDENCE
    };
    e(ExprKind::Unary {
        op,
        operand: at_least(operand, min),
    })
}

fn postfix_object(object: Expr) -> Box<Expr> {
    let plain =
        power(&object) == ATOM && !matches!(object.kind, ExprKind::Int(_) | ExprKind::Float(_));
    Box::new(if plain { object } else { paren(object) })
}

const BINARY_OPS: [BinaryOp; 16] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Mod,
    BinaryOp::Pow,
    BinaryOp::Concat,
    BinaryOp::Eq,
    BinaryOp::Ne,
    BinaryOp::Lt,
    BinaryOp::Gt,
    BinaryOp::Le,
    BinaryOp::Ge,
    BinaryOp::And,
    BinaryOp::Or,
    BinaryOp::Coalesce,
];

fn expr() -> impl Strategy<Value = Expr> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            4 => (prop::sample::select(BINARY_OPS.to_vec()), inner.clone(), inner.clone())
                .prop_map(|(op, l, r)| binary(op, l, r)),
            1 => (prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]), inner.clone())
                .prop_map(|(op, operand)| unary(op, operand)),
            1 => (inner.clone(), inner.clone(), any::<bool>()).prop_map(|(value, list, negated)| e(ExprKind::In {
                value: at_least(value, IN_PRECEDENCE),
                list: at_least(list, IN_PRECEDENCE + 1),
                negated,
            })),
            1 => inner.clone().prop_map(paren),
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(|items| e(ExprKind::List(items))),
            1 => prop::collection::vec((object_key(), inner.clone()), 0..4).prop_map(|entries| e(ExprKind::Object(
                entries.into_iter().map(|(key, value)| ObjectEntry { key, value }).collect(),
            ))),
            1 => (prop::sample::select(vec!["LEN", "UPPER", "MAX", "compute_total", "Format"]),
                  prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(name, args)| e(ExprKind::Call { name: ident(name), args })),
            1 => (inner.clone(), name()).prop_map(|(object, field)| e(ExprKind::Field {
                object: postfix_object(object),
                field: ident(field),
            })),
            1 => (inner.clone(), inner).prop_map(|(object, index)| e(ExprKind::Index {
                object: postfix_object(object),
                index: Box::new(index),
            })),
        ]
    })
}

fn object_key() -> impl Strategy<Value = ObjectKey> {
    prop_oneof![
        name().prop_map(ObjectKey::Bare),
        raw_text().prop_map(|raw| ObjectKey::Quoted(str_lit(raw)))
    ]
}

/// A short expression for the places where a long one would only repeat what `expr` tests.
fn small_expr() -> impl Strategy<Value = Expr> {
    prop_oneof![3 => leaf(), 1 => (leaf(), leaf()).prop_map(|(l, r)| binary(BinaryOp::Add, l, r))]
}

// ---- Statements ---------------------------------------------------------------

fn s(kind: StmtKind) -> Stmt {
    Stmt {
        kind,
        span: Span::default(),
        comment: None,
        end_comment: None,
    }
}

fn comment_text() -> impl Strategy<Value = String> {
    "([a-zA-Z0-9_.,:!?'\"-]([a-zA-Z0-9_.,:!?'\" -]{0,14}[a-zA-Z0-9_.,:!?'\"-])?)?"
}

/// A comment that may end a statement's line (`#` only starts a line).
fn trailing_comment() -> impl Strategy<Value = Comment> {
    (
        prop::sample::select(vec![
            CommentMarker::Quote,
            CommentMarker::Rem,
            CommentMarker::Slashes,
        ]),
        comment_text(),
    )
        .prop_map(|(marker, text)| Comment { marker, text })
}

fn line_comment() -> impl Strategy<Value = Comment> {
    (
        prop::sample::select(vec![
            CommentMarker::Quote,
            CommentMarker::Rem,
            CommentMarker::Slashes,
            CommentMarker::Hash,
        ]),
        comment_text(),
    )
        .prop_map(|(marker, text)| Comment { marker, text })
}

fn maybe_comment() -> impl Strategy<Value = Option<Comment>> {
    prop::option::weighted(0.25, trailing_comment())
}

/// Whole-line comments and blank lines, as kept in `leading` and `trailing` blocks.
fn trivia() -> impl Strategy<Value = Block> {
    prop::collection::vec(
        prop_oneof![
            Just(s(StmtKind::Blank)),
            line_comment().prop_map(|c| s(StmtKind::Comment(c)))
        ],
        0..3,
    )
    .prop_map(normalize_block)
}

fn with_comments(stmt: impl Strategy<Value = Stmt>) -> impl Strategy<Value = Stmt> {
    (stmt, maybe_comment()).prop_map(|(mut stmt, comment)| {
        stmt.comment = comment;
        stmt
    })
}

fn with_end_comments(stmt: impl Strategy<Value = Stmt>) -> impl Strategy<Value = Stmt> {
    (stmt, maybe_comment(), maybe_comment()).prop_map(|(mut stmt, comment, end_comment)| {
        stmt.comment = comment;
        stmt.end_comment = end_comment;
        stmt
    })
}

fn assign_target() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => var(),
        1 => (var(), name()).prop_map(|(object, field)| e(ExprKind::Field { object: Box::new(object), field: ident(field) })),
        1 => (var(), small_expr()).prop_map(|(object, index)| e(ExprKind::Index { object: Box::new(object), index: Box::new(index) })),
    ]
}

/// One-line statements without a comment: what may stand in a one-line `IF` or after `BRANCH A:`.
fn simple_kind() -> impl Strategy<Value = StmtKind> {
    prop_oneof![
        3 => (assign_target(), expr(), any::<bool>())
            .prop_map(|(target, value, has_let)| StmtKind::Assign { target, value, has_let }),
        2 => (prop::option::of(small_expr()), expr()).prop_map(|(to, message)| StmtKind::Talk { to, message }),
        1 => expr().prop_map(StmtKind::Print),
        1 => prop::sample::select(vec![LoopKind::For, LoopKind::Do, LoopKind::While]).prop_map(StmtKind::Exit),
        1 => publish_event().prop_map(StmtKind::PublishEvent),
        1 => bot_call().prop_map(StmtKind::Bot),
        1 => (var(), bot_call(), any::<bool>()).prop_map(|(target, call, has_let)| StmtKind::AssignKeyword {
            target,
            value: KeywordExpr::Bot(call),
            has_let,
        }),
    ]
}

fn bot_call() -> impl Strategy<Value = BotCall> {
    (
        prop_oneof![string(), var()],
        prop_oneof![string(), var()],
        prop::option::of(var()),
        prop::option::of(expr()),
        prop::option::of(small_expr()),
        prop::option::of(small_expr()),
        prop::option::of(small_expr()),
    )
        .prop_map(|(bot, action, into, with, timeout, retry, cache)| BotCall {
            bot,
            action,
            into,
            with,
            timeout,
            retry,
            cache,
        })
}

fn publish_event() -> impl Strategy<Value = PublishEvent> {
    (
        string(),
        prop::option::of(expr()),
        prop::option::of(small_expr()),
        prop::option::of(string()),
    )
        .prop_map(|(name, data, key, to)| PublishEvent {
            name,
            data,
            key,
            to,
        })
}

fn clause_kind() -> impl Strategy<Value = ClauseKind> {
    prop_oneof![
        small_expr().prop_map(ClauseKind::Timeout),
        timeout_action().prop_map(ClauseKind::OnTimeout),
        expr().prop_map(ClauseKind::Message),
        small_expr().prop_map(ClauseKind::Require),
        string().prop_map(ClauseKind::Via),
        Just(ClauseKind::OnDenyContinue),
    ]
}

fn timeout_action() -> impl Strategy<Value = TimeoutAction> {
    prop_oneof![
        string().prop_map(TimeoutAction::Escalate),
        prop::option::of(prop::sample::select(vec![
            "ORDER",
            "LATE REQUEST",
            "Too_slow"
        ]))
        .prop_map(|words| TimeoutAction::Reject(words.map(str::to_string))),
        any::<bool>().prop_map(|warning| TimeoutAction::Approve { warning }),
    ]
}

/// Clauses with their own-line flags and comments: a comment only where a clause ends its line.
fn clauses(kind: impl Strategy<Value = ClauseKind>) -> impl Strategy<Value = Vec<Clause>> {
    prop::collection::vec((kind, any::<bool>(), maybe_comment()), 0..4).prop_map(|raw| {
        let mut clauses: Vec<Clause> = raw
            .into_iter()
            .map(|(kind, own_line, comment)| Clause {
                kind,
                span: Span::default(),
                own_line,
                comment,
            })
            .collect();
        for i in 0..clauses.len() {
            let ends_line = clauses.get(i + 1).is_none_or(|next| next.own_line);
            if !ends_line {
                clauses[i].comment = None;
            }
        }
        clauses
    })
}

/// Moves the comment of a statement's first line to the clause that ends that line, if any:
/// one line has one comment.
fn settle_clause_comments(stmt: &mut Stmt, clauses: &mut [Clause]) {
    let on_first_line = clauses.iter().take_while(|c| !c.own_line).count();
    if on_first_line > 0 {
        let last = &mut clauses[on_first_line - 1];
        if last.comment.is_none() {
            last.comment = stmt.comment.take();
        } else {
            stmt.comment = None;
        }
    }
}

fn approval() -> impl Strategy<Value = Stmt> {
    (
        prop_oneof![
            prop::collection::vec(prop_oneof![string(), var()], 1..3).prop_map(Approvers::People),
            string().prop_map(Approvers::Group),
        ],
        clauses(clause_kind()),
        maybe_comment(),
    )
        .prop_map(|(from, mut clauses, comment)| {
            let mut stmt = s(StmtKind::HumanApproval(Approval {
                from,
                clauses: Vec::new(),
            }));
            stmt.comment = comment;
            settle_clause_comments(&mut stmt, &mut clauses);
            if let StmtKind::HumanApproval(approval) = &mut stmt.kind {
                approval.clauses = clauses;
            }
            stmt
        })
}

fn wait_for_event() -> impl Strategy<Value = Stmt> {
    let kind = prop_oneof![
        small_expr().prop_map(ClauseKind::Timeout),
        prop_oneof![
            string().prop_map(TimeoutAction::Escalate),
            Just(TimeoutAction::Fail),
            Just(TimeoutAction::Continue),
        ]
        .prop_map(ClauseKind::OnTimeout),
    ];
    (
        string(),
        prop::option::of(small_expr()),
        clauses(kind),
        maybe_comment(),
        prop::option::of(var()),
    )
        .prop_map(|(name, key, mut clauses, comment, target)| {
            let mut stmt = s(StmtKind::Blank);
            stmt.comment = comment;
            settle_clause_comments(&mut stmt, &mut clauses);
            let wait = WaitForEvent { name, key, clauses };
            stmt.kind = match target {
                None => StmtKind::WaitForEvent(wait),
                Some(target) => StmtKind::AssignKeyword {
                    target,
                    value: KeywordExpr::WaitForEvent(wait),
                    has_let: false,
                },
            };
            stmt
        })
}

fn parallel(body: BoxedStrategy<Block>) -> impl Strategy<Value = Parallel> {
    let branch = (
        trivia(),
        any::<bool>(),
        with_comments(simple_kind().prop_map(s)),
        body,
        any::<bool>(),
        maybe_comment(),
    );
    (
        prop::collection::vec(branch, 1..4),
        prop_oneof![
            Just(Join::All),
            Just(Join::Any),
            (1i64..4).prop_map(|n| Join::Count(e(ExprKind::Int(n))))
        ],
        trivia(),
    )
        .prop_map(|(raw, join, mut trailing)| {
            let count = raw.len();
            let mut branches: Vec<Branch> = raw
                .into_iter()
                .enumerate()
                .map(
                    |(i, (leading, inline, one, block, explicit_end, comment))| Branch {
                        leading,
                        label: ident(["A", "B", "C"][i]),
                        body: if inline { vec![one] } else { block },
                        inline,
                        explicit_end: !inline && explicit_end,
                        comment: if inline { None } else { comment },
                        span: Span::default(),
                    },
                )
                .collect();
            // Without `END BRANCH`, comment lines after a block branch belong to its body.
            for i in 0..count {
                if !branches[i].inline && !branches[i].explicit_end {
                    match branches.get_mut(i + 1) {
                        Some(next) => next.leading.clear(),
                        None => trailing.clear(),
                    }
                }
            }
            Parallel {
                branches,
                join,
                trailing,
            }
        })
}

fn step_body(block: BoxedStrategy<Block>) -> impl Strategy<Value = Stmt> {
    prop_oneof![
        3 => with_comments(bot_call().prop_map(|call| s(StmtKind::Bot(call)))),
        2 => approval(),
        2 => with_end_comments(parallel(block).prop_map(|p| s(StmtKind::Parallel(p)))),
        1 => with_comments(publish_event().prop_map(|p| s(StmtKind::PublishEvent(p)))),
    ]
}

fn step(block: BoxedStrategy<Block>) -> impl Strategy<Value = Stmt> {
    (
        prop::sample::select(vec!["1", "2", "2.1", "3a", "10"]),
        step_body(block),
    )
        .prop_map(|(number, body)| {
            s(StmtKind::Step(Step {
                number: number.to_string(),
                number_span: Span::default(),
                body: Box::new(body),
            }))
        })
}

fn case_pattern() -> impl Strategy<Value = CasePattern> {
    prop_oneof![
        3 => expr().prop_map(CasePattern::Value),
        1 => (small_expr(), small_expr()).prop_map(|(low, high)| CasePattern::Range(low, high)),
        1 => (
            prop::sample::select(vec![BinaryOp::Eq, BinaryOp::Ne, BinaryOp::Lt, BinaryOp::Gt, BinaryOp::Le, BinaryOp::Ge]),
            small_expr(),
        )
            .prop_map(|(op, value)| CasePattern::Is(op, value)),
    ]
}

/// A statement whose blocks nest at most `depth` deeper.
fn stmt(depth: u32) -> BoxedStrategy<Stmt> {
    let simple = prop_oneof![
        8 => with_comments(simple_kind().prop_map(s)),
        2 => Just(s(StmtKind::Blank)),
        2 => line_comment().prop_map(|c| s(StmtKind::Comment(c))),
        1 => approval(),
        1 => wait_for_event(),
    ];
    if depth == 0 {
        return simple.boxed();
    }
    let block = block(depth - 1);
    let inline_if = (
        expr(),
        simple_kind(),
        prop::option::of(simple_kind()),
        maybe_comment(),
    )
        .prop_map(|(cond, then, otherwise, comment)| {
            let mut stmt = s(StmtKind::If(If {
                arms: vec![IfArm {
                    cond,
                    body: vec![s(then)],
                    comment: None,
                }],
                else_body: otherwise.map(|o| vec![s(o)]),
                else_comment: None,
                inline: true,
            }));
            stmt.comment = comment;
            stmt
        });
    let block_if = (
        prop::collection::vec((expr(), block.clone(), maybe_comment()), 1..4),
        prop::option::of((block.clone(), maybe_comment())),
    )
        .prop_map(|(arms, otherwise)| {
            let arms = arms
                .into_iter()
                .enumerate()
                .map(|(i, (cond, body, comment))| IfArm {
                    cond,
                    body,
                    comment: if i == 0 { None } else { comment },
                })
                .collect();
            let (else_body, else_comment) = match otherwise {
                Some((body, comment)) => (Some(body), comment),
                None => (None, None),
            };
            s(StmtKind::If(If {
                arms,
                else_body,
                else_comment,
                inline: false,
            }))
        });
    let select = (
        expr(),
        prop::collection::vec(
            (
                prop::collection::vec(case_pattern(), 1..3),
                block.clone(),
                maybe_comment(),
            ),
            0..3,
        ),
        prop::option::of((block.clone(), maybe_comment())),
        any::<bool>(),
        trivia(),
    )
        .prop_map(|(subject, arms, otherwise, switch, leading)| {
            let arms = arms
                .into_iter()
                .map(|(patterns, body, comment)| CaseArm {
                    patterns,
                    body,
                    comment,
                })
                .collect();
            let (else_body, else_comment) = match otherwise {
                Some((body, comment)) => (Some(body), comment),
                None => (None, None),
            };
            s(StmtKind::Select(Select {
                subject,
                arms,
                else_body,
                switch,
                leading,
                else_comment,
            }))
        });
    let for_each = (name(), expr(), block.clone()).prop_map(|(var, iterable, body)| {
        s(StmtKind::ForEach {
            var: ident(var),
            iterable,
            body,
        })
    });
    let for_to = (
        name(),
        expr(),
        expr(),
        prop::option::of(expr()),
        block.clone(),
    )
        .prop_map(|(var, from, to, step, body)| {
            s(StmtKind::ForTo {
                var: ident(var),
                from,
                to,
                step,
                body,
            })
        });
    let while_ = (expr(), any::<bool>(), block.clone())
        .prop_map(|(cond, until, body)| s(StmtKind::While { cond, until, body }));
    let do_loop =
        (block.clone(), prop::option::of((any::<bool>(), expr()))).prop_map(|(body, cond)| {
            s(StmtKind::DoLoop {
                body,
                cond: cond.map(|(until, cond)| LoopCond { until, cond }),
            })
        });
    let on_event =
        (string(), block.clone()).prop_map(|(name, body)| s(StmtKind::OnEvent { name, body }));
    Union::new_weighted(vec![
        (10, simple.boxed()),
        (1, with_comments(inline_if).boxed()),
        (2, with_end_comments(block_if).boxed()),
        (1, with_end_comments(select).boxed()),
        (1, with_end_comments(for_each).boxed()),
        (1, with_end_comments(for_to).boxed()),
        (1, with_end_comments(while_).boxed()),
        (1, with_end_comments(do_loop).boxed()),
        (1, with_end_comments(on_event).boxed()),
        (2, step(block).boxed()),
    ])
    .boxed()
}

fn block(depth: u32) -> BoxedStrategy<Block> {
    prop::collection::vec(stmt(depth), 0..5)
        .prop_map(normalize_block)
        .boxed()
}

/// The parser keeps one `Blank` for a run of blank lines.
fn normalize_block(mut block: Block) -> Block {
    block.dedup_by(|b, a| a.kind == StmtKind::Blank && b.kind == StmtKind::Blank);
    block
}

fn program() -> impl Strategy<Value = Program> {
    (
        block(2),
        prop::option::of((
            string(),
            block(2),
            any::<bool>(),
            maybe_comment(),
            maybe_comment(),
        )),
    )
        .prop_map(|(mut body, workflow)| {
            if let Some((name, mut inner, closed, comment, end_comment)) = workflow {
                if !closed {
                    drop_trailing_blanks(&mut inner);
                }
                let mut stmt = s(StmtKind::Workflow(Workflow {
                    name,
                    body: inner,
                    closed,
                }));
                stmt.comment = comment;
                stmt.end_comment = if closed { end_comment } else { None };
                body.push(stmt);
            }
            let mut body = normalize_block(body);
            drop_trailing_blanks(&mut body);
            Program { body }
        })
}

/// Blank lines at the end of the file belong to no statement: the parser drops them.
fn drop_trailing_blanks(block: &mut Block) {
    while block
        .last()
        .is_some_and(|stmt| stmt.kind == StmtKind::Blank)
    {
        block.pop();
    }
}

// ---- The properties -------------------------------------------------------------

/// Nested boxed strategies build deep value trees: give the runner a large stack.
const STACK: usize = 256 << 20;

#[test]
fn formatted_trees_parse_back_to_themselves() {
    let run = || {
        let mut runner = TestRunner::new(ProptestConfig {
            cases: 256,
            ..ProptestConfig::default()
        });
        runner.run(&program(), |program| {
            let text = format(&program);
            let parsed = parse(&text);
            prop_assert!(
                parsed.diagnostics.is_empty(),
                "diagnostics {:#?}\n--- text ---\n{}",
                parsed.diagnostics,
                text
            );
            prop_assert_eq!(
                without_spans(&program),
                without_spans(&parsed.program),
                "--- text ---\n{}",
                text
            );
            prop_assert_eq!(&text, &format(&parsed.program));
            prop_assert!(
                text.lines().all(|line| line == line.trim_end()),
                "trailing blanks\n{}",
                text
            );
            Ok(())
        })
    };
    let result = std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

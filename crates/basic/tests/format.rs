//! The formatter on real text: snapshots of `tests/data/format/*.bas`, and for
//! every error-free `.bas` under `tests/data/` the two promises of `format`:
//! it is idempotent, and the formatted text parses to the same tree.

mod common;

use basic::{Program, format, has_errors, parse};
use common::{corpus_files, without_spans};

/// Formats `source`, which must parse without errors.
fn format_source(source: &str, what: &str) -> String {
    let parsed = parse(source);
    assert!(
        !has_errors(&parsed.diagnostics),
        "{what} does not parse: {:#?}",
        parsed.diagnostics
    );
    format(&parsed.program)
}

#[test]
fn snapshots() {
    insta::glob!("data/format/*.bas", |path| {
        let source = std::fs::read_to_string(path).unwrap();
        insta::assert_snapshot!(format_source(&source, &path.display().to_string()));
    });
}

#[test]
fn every_corpus_file_round_trips() {
    let files = corpus_files();
    assert!(!files.is_empty(), "no .bas files under tests/data");
    let mut checked = 0;
    for path in &files {
        let source = std::fs::read_to_string(path).unwrap();
        let parsed = parse(&source);
        if has_errors(&parsed.diagnostics) {
            continue;
        }
        assert_round_trip(&parsed.program, &path.display().to_string());
        checked += 1;
    }
    assert!(
        checked > 0,
        "no .bas file under tests/data parses without errors"
    );
}

/// Formats `program`, parses the text again and checks that nothing moved.
fn assert_round_trip(program: &Program, what: &str) {
    let once = format(program);
    let reparsed = parse(&once);
    assert!(
        !has_errors(&reparsed.diagnostics),
        "the formatted {what} does not parse: {:#?}\n--- formatted ---\n{once}",
        reparsed.diagnostics
    );
    assert_eq!(
        without_spans(program),
        without_spans(&reparsed.program),
        "the formatted {what} parses to another tree\n--- formatted ---\n{once}"
    );
    assert_eq!(
        once,
        format(&reparsed.program),
        "formatting {what} is not idempotent"
    );
    assert!(
        once.is_empty() || (once.ends_with('\n') && !once.ends_with("\n\n")),
        "{what}: bad end of text"
    );
    for line in once.lines() {
        assert_eq!(line, line.trim_end(), "{what}: trailing blanks in {line:?}");
    }
}

/// Trees built by hand, for the parts of the style that do not depend on the parser.
mod hand_built {
    use basic::ast::*;
    use basic::{Span, format};

    fn e(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }
    fn ident(name: &str) -> Ident {
        Ident {
            name: name.into(),
            span: Span::default(),
        }
    }
    fn var(name: &str) -> Expr {
        e(ExprKind::Var(ident(name)))
    }
    fn int(value: i64) -> Expr {
        e(ExprKind::Int(value))
    }
    fn text(raw: &str) -> Expr {
        e(ExprKind::Str(StrLit {
            raw: raw.into(),
            parts: vec![StrPart::Text(raw.into())],
        }))
    }
    fn s(kind: StmtKind) -> Stmt {
        Stmt {
            kind,
            span: Span::default(),
            comment: None,
            end_comment: None,
        }
    }
    fn quote(text: &str) -> Option<Comment> {
        Some(Comment {
            marker: CommentMarker::Quote,
            text: text.into(),
        })
    }
    fn talk(message: &str) -> Stmt {
        s(StmtKind::Talk {
            to: None,
            message: text(message),
        })
    }
    fn program(body: Vec<Stmt>) -> Program {
        Program { body }
    }

    #[test]
    fn blocks_indent_by_two_and_keep_their_comments() {
        let if_ = If {
            arms: vec![
                IfArm {
                    cond: e(ExprKind::Binary {
                        op: BinaryOp::Gt,
                        left: Box::new(var("order_amount")),
                        right: Box::new(int(100)),
                    }),
                    body: vec![talk("big"), s(StmtKind::Blank), talk("really")],
                    comment: None,
                },
                IfArm {
                    cond: var("small"),
                    body: vec![talk("small")],
                    comment: quote("second"),
                },
            ],
            else_body: Some(vec![talk("none")]),
            else_comment: quote("otherwise"),
            inline: false,
        };
        let mut stmt = s(StmtKind::If(if_));
        stmt.comment = quote("first");
        stmt.end_comment = Some(Comment {
            marker: CommentMarker::Rem,
            text: "done".into(),
        });
        assert_eq!(
            format(&program(vec![stmt])),
            "IF order_amount > 100 THEN  ' first\n  TALK \"big\"\n\n  TALK \"really\"\n\
             ELSEIF small THEN  ' second\n  TALK \"small\"\nELSE  ' otherwise\n  TALK \"none\"\nEND IF  REM done\n"
        );
    }

    #[test]
    fn a_step_writes_its_body_on_its_line_and_clauses_where_they_stood() {
        let approval = Approval {
            from: Approvers::People(vec![text("manager@company.com")]),
            clauses: vec![
                Clause {
                    kind: ClauseKind::Require(int(1)),
                    span: Span::default(),
                    own_line: false,
                    comment: None,
                },
                Clause {
                    kind: ClauseKind::Timeout(int(1800)),
                    span: Span::default(),
                    own_line: true,
                    comment: quote("seconds"),
                },
                Clause {
                    kind: ClauseKind::OnTimeout(TimeoutAction::Escalate(text(
                        "director@company.com",
                    ))),
                    span: Span::default(),
                    own_line: true,
                    comment: None,
                },
            ],
        };
        let step = Step {
            number: "3".into(),
            number_span: Span::default(),
            body: Box::new(s(StmtKind::HumanApproval(approval))),
        };
        let workflow = Workflow {
            name: text("w"),
            body: vec![s(StmtKind::Step(step))],
            closed: false,
        };
        assert_eq!(
            format(&program(vec![s(StmtKind::Workflow(workflow))])),
            "ORCHESTRATE WORKFLOW \"w\"\n  STEP 3: HUMAN APPROVAL FROM \"manager@company.com\" REQUIRE 1\n    \
             TIMEOUT 1800  ' seconds\n    ON TIMEOUT: ESCALATE TO \"director@company.com\"\n"
        );
    }

    #[test]
    fn parallel_branches_inline_and_as_blocks() {
        let bot = |name: &str| {
            s(StmtKind::Bot(BotCall {
                bot: text(name),
                action: text("go"),
                into: Some(var("out")),
                with: None,
                timeout: Some(int(30)),
                retry: None,
                cache: None,
            }))
        };
        let parallel = Parallel {
            branches: vec![
                Branch {
                    leading: vec![s(StmtKind::Comment(Comment {
                        marker: CommentMarker::Slashes,
                        text: "fast".into(),
                    }))],
                    label: ident("A"),
                    body: vec![bot("a")],
                    inline: true,
                    explicit_end: false,
                    comment: None,
                    span: Span::default(),
                },
                Branch {
                    leading: vec![],
                    label: ident("B"),
                    body: vec![bot("b"), talk("b done")],
                    inline: false,
                    explicit_end: true,
                    comment: quote("slow"),
                    span: Span::default(),
                },
            ],
            join: Join::Count(int(1)),
            trailing: vec![s(StmtKind::Blank)],
        };
        let step = Step {
            number: "4".into(),
            number_span: Span::default(),
            body: Box::new(s(StmtKind::Parallel(parallel))),
        };
        assert_eq!(
            format(&program(vec![s(StmtKind::Step(step))])),
            "STEP 4: PARALLEL\n  // fast\n  BRANCH A: BOT \"a\" \"go\" INTO out TIMEOUT 30\n  BRANCH B:  ' slow\n    \
             BOT \"b\" \"go\" INTO out TIMEOUT 30\n    TALK \"b done\"\n  END BRANCH\n\nEND PARALLEL WAIT 1\n"
        );
    }

    #[test]
    fn inline_if_stays_on_one_line() {
        let if_ = If {
            arms: vec![IfArm {
                cond: var("ready"),
                body: vec![talk("go")],
                comment: None,
            }],
            else_body: Some(vec![s(StmtKind::Exit(LoopKind::For))]),
            else_comment: None,
            inline: true,
        };
        assert_eq!(
            format(&program(vec![s(StmtKind::If(if_))])),
            "IF ready THEN TALK \"go\" ELSE EXIT FOR\n"
        );
    }

    #[test]
    fn keywords_and_literals_in_their_canonical_spelling() {
        let object = e(ExprKind::Object(vec![
            ObjectEntry {
                key: ObjectKey::Quoted(StrLit {
                    raw: "k".into(),
                    parts: vec![StrPart::Text("k".into())],
                }),
                value: e(ExprKind::Float(2.0)),
            },
            ObjectEntry {
                key: ObjectKey::Bare("n".into()),
                value: e(ExprKind::List(vec![
                    e(ExprKind::Null),
                    e(ExprKind::Bool(true)),
                ])),
            },
        ]));
        let body = vec![
            s(StmtKind::Assign {
                target: var("x"),
                value: object,
                has_let: true,
            }),
            s(StmtKind::AssignKeyword {
                target: var("answer"),
                value: KeywordExpr::Llm {
                    prompt: var("p"),
                    optimize_for: Some(text("speed")),
                    max_cost: Some(e(ExprKind::Float(0.8))),
                },
                has_let: false,
            }),
            s(StmtKind::Setup {
                kind: SetupKind::AddSuggestion,
                args: vec![text("no"), text("No, thanks")],
            }),
            s(StmtKind::Hear {
                var: var("n"),
                as_type: Some(HearType::Named("INTEGER".into())),
            }),
            s(StmtKind::Http {
                method: HttpMethod::Delete,
                url: text("u"),
                body: None,
            }),
            s(StmtKind::Generic(Generic {
                keyword: "WEBSITE OF".into(),
                keyword_span: Span::default(),
                args: vec![],
                rest: Some("x y".into()),
            })),
            s(StmtKind::Error),
        ];
        assert_eq!(
            format(&program(body)),
            "LET x = {\"k\": 2.0, n: [NULL, TRUE]}\nanswer = LLM p WITH OPTIMIZE FOR \"speed\" WITH MAX_COST 0.8\n\
             ADD SUGGESTION \"no\" AS \"No, thanks\"\nHEAR n AS INTEGER\nDELETE HTTP \"u\"\nWEBSITE OF x y\n' <unformattable>\n"
        );
    }
}

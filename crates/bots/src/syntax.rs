//! What the loader needs to know about a script's syntax tree: whether it
//! has a `RETURN` anywhere (a `start.bas` that answers, LANGUAGE.md §5 step 2)
//! and which workflows it declares at top level.

use basic::Program;
use basic::ast::{ExprKind, Stmt, StmtKind};

/// The facts about one script that bot resolution and workflow look-up use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    pub has_return: bool,
    /// The names of the top-level `ORCHESTRATE WORKFLOW "<name>"` blocks, in order.
    pub workflows: Vec<String>,
}

pub(crate) fn summarize(source: &str) -> Summary {
    summarize_program(&basic::parse(source).program)
}

fn summarize_program(program: &Program) -> Summary {
    let mut has_return = false;
    walk(&program.body, &mut |stmt| {
        has_return |= matches!(stmt.kind, StmtKind::Return(_));
    });
    let workflows = program
        .body
        .iter()
        .filter_map(|stmt| match &stmt.kind {
            StmtKind::Workflow(workflow) => match &workflow.name.kind {
                ExprKind::Str(name) => name.plain_text(),
                _ => None,
            },
            _ => None,
        })
        .collect();
    Summary {
        has_return,
        workflows,
    }
}

/// Calls `visit` on every statement of `block`, nested blocks included,
/// parents before children.
pub(crate) fn walk(block: &[Stmt], visit: &mut impl FnMut(&Stmt)) {
    for stmt in block {
        visit(stmt);
        match &stmt.kind {
            StmtKind::With { body, .. }
            | StmtKind::ForEach { body, .. }
            | StmtKind::ForTo { body, .. }
            | StmtKind::While { body, .. }
            | StmtKind::DoLoop { body, .. }
            | StmtKind::OnEvent { body, .. } => walk(body, visit),
            StmtKind::If(branch) => {
                for arm in &branch.arms {
                    walk(&arm.body, visit);
                }
                if let Some(body) = &branch.else_body {
                    walk(body, visit);
                }
            }
            StmtKind::Select(select) => {
                walk(&select.leading, visit);
                for arm in &select.arms {
                    walk(&arm.body, visit);
                }
                if let Some(body) = &select.else_body {
                    walk(body, visit);
                }
            }
            StmtKind::Sub(procedure) | StmtKind::Function(procedure) => {
                walk(&procedure.body, visit)
            }
            StmtKind::Workflow(workflow) => walk(&workflow.body, visit),
            StmtKind::Step(step) => walk(std::slice::from_ref(&*step.body), visit),
            StmtKind::Parallel(parallel) => {
                for branch in &parallel.branches {
                    walk(&branch.leading, visit);
                    walk(&branch.body, visit);
                }
                walk(&parallel.trailing, visit);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use basic::Span;
    use basic::ast::{Expr, IfArm, StrLit, StrPart, Workflow};

    // The tree is built by hand so these tests do not depend on the parser.
    fn stmt(kind: StmtKind) -> Stmt {
        Stmt {
            kind,
            span: Span::default(),
            comment: None,
            end_comment: None,
        }
    }

    fn expr(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Span::default(),
        }
    }

    fn count_returns(program: &Program) -> usize {
        let mut count = 0;
        walk(&program.body, &mut |s| {
            count += usize::from(matches!(s.kind, StmtKind::Return(_)))
        });
        count
    }

    #[test]
    fn walk_finds_a_return_nested_in_a_workflow_and_an_if() {
        let nested_if = stmt(StmtKind::If(basic::ast::If {
            arms: vec![IfArm {
                cond: expr(ExprKind::Bool(true)),
                body: vec![stmt(StmtKind::Return(None))],
                comment: None,
            }],
            else_body: Some(vec![stmt(StmtKind::Return(None))]),
            else_comment: None,
            inline: false,
        }));
        let workflow = stmt(StmtKind::Workflow(Workflow {
            name: expr(ExprKind::Null),
            body: vec![nested_if],
            closed: true,
        }));
        assert_eq!(
            count_returns(&Program {
                body: vec![workflow]
            }),
            2
        );
    }

    fn workflow(name: ExprKind, body: Vec<Stmt>) -> Stmt {
        stmt(StmtKind::Workflow(Workflow {
            name: expr(name),
            body,
            closed: true,
        }))
    }

    fn string(text: &str) -> ExprKind {
        ExprKind::Str(StrLit {
            raw: text.into(),
            parts: vec![StrPart::Text(text.into())],
        })
    }

    #[test]
    fn only_top_level_workflows_with_a_plain_string_name_count() {
        let interpolated = ExprKind::Str(StrLit {
            raw: "${x}".into(),
            parts: vec![StrPart::Interp(expr(ExprKind::Null))],
        });
        let program = Program {
            body: vec![
                stmt(StmtKind::Blank),
                workflow(
                    string("customer-support"),
                    vec![workflow(string("nested"), vec![])],
                ),
                workflow(interpolated, vec![]),
                workflow(ExprKind::Null, vec![]),
                workflow(string("second"), vec![]),
            ],
        };
        let summary = summarize_program(&program);
        assert_eq!(summary.workflows, ["customer-support", "second"]);
        assert!(!summary.has_return);
    }
}

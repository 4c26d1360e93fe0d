//! The checker's first pass: what the whole script defines, wherever it stands.
//!
//! Labels, procedures and assigned variables may be used before (above) their
//! definition, so the reporting pass needs them all up front. This pass walks
//! statements only (no expression ever assigns), and reports the problems that
//! are about definitions themselves: duplicate labels (E014) and duplicate or
//! nested procedures (E019).

use std::collections::{BTreeMap, BTreeSet};

use crate::ast::{Block, Expr, ExprKind, Ident, KeywordExpr, Program, Stmt, StmtKind};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::Span;

/// A `SUB` or `FUNCTION` of the script (the first definition of its name).
pub(super) struct Procedure {
    pub name: String,
    pub span: Span,
}

/// Everything the script defines. Keys are case-folded names.
#[derive(Default)]
pub(super) struct Facts {
    /// Variables something in the script assigns, plus the implicit ones.
    pub assigned: BTreeSet<String>,
    /// Each label's first definition.
    pub labels: BTreeMap<String, Span>,
    pub procedures: BTreeMap<String, Procedure>,
}

/// Variables the engine sets itself in every script (LANGUAGE.md §4.2, §4.8, §5).
const ALWAYS_SET: &[&str] = &["result", "error", "action", "input"];

pub(super) fn collect(program: &Program, diagnostics: &mut Vec<Diagnostic>) -> Facts {
    let mut collector = Collector {
        facts: Facts::default(),
        diagnostics,
    };
    for name in ALWAYS_SET {
        collector.facts.assigned.insert((*name).to_owned());
    }
    collector.block(&program.body, 0);
    collector.facts
}

struct Collector<'d> {
    facts: Facts,
    diagnostics: &'d mut Vec<Diagnostic>,
}

impl Collector<'_> {
    /// `depth` is 0 for the top level of the script and grows inside every block.
    fn block(&mut self, block: &Block, depth: usize) {
        for stmt in block {
            self.stmt(stmt, depth);
        }
    }

    fn stmt(&mut self, stmt: &Stmt, depth: usize) {
        let inner = depth + 1;
        match &stmt.kind {
            StmtKind::Assign { target, .. } => self.assign_target(target),
            StmtKind::AssignKeyword { target, value, .. } => {
                self.assign_target(target);
                if let KeywordExpr::Bot(call) = value
                    && let Some(into) = &call.into
                {
                    self.assign_target(into);
                }
            }
            StmtKind::With { object, body } => {
                self.assign(object);
                self.block(body, inner);
            }
            StmtKind::If(if_) => {
                for arm in &if_.arms {
                    self.block(&arm.body, inner);
                }
                if let Some(body) = &if_.else_body {
                    self.block(body, inner);
                }
            }
            StmtKind::Select(select) => {
                self.block(&select.leading, inner);
                for arm in &select.arms {
                    self.block(&arm.body, inner);
                }
                if let Some(body) = &select.else_body {
                    self.block(body, inner);
                }
            }
            StmtKind::ForEach { var, body, .. } | StmtKind::ForTo { var, body, .. } => {
                self.assign(var);
                self.block(body, inner);
            }
            StmtKind::While { body, .. } | StmtKind::DoLoop { body, .. } => self.block(body, inner),
            StmtKind::Sub(procedure) | StmtKind::Function(procedure) => {
                let kind = if matches!(stmt.kind, StmtKind::Sub(_)) {
                    "SUB"
                } else {
                    "FUNCTION"
                };
                self.procedure(kind, &procedure.name, stmt.span, depth);
                // Parameters are local: the reporting pass scopes them.
                self.block(&procedure.body, inner);
            }
            StmtKind::Label(label) => {
                let key = label.key();
                if let Some(&first) = self.facts.labels.get(&key) {
                    self.diagnostics.push(
                        Diagnostic::new(
                            Code::DuplicateLabel,
                            label.span,
                            format!("label `{}` is defined twice", label.name),
                        )
                        .with_label(first, "first defined here")
                        .with_hint("rename one of them; every GOTO jumps to the first"),
                    );
                } else {
                    self.facts.labels.insert(key, label.span);
                }
            }
            StmtKind::Hear { var, .. } => self.assign_target(var),
            StmtKind::Param(param) => self.assign(&param.name),
            StmtKind::TriggerOnEvent(_) | StmtKind::WaitForEvent(_) => {
                self.assign_implicit("event")
            }
            StmtKind::OnEvent { body, .. } => {
                self.assign_implicit("event");
                self.block(body, inner);
            }
            StmtKind::HumanApproval(_) => self.assign_implicit("approval"),
            StmtKind::Bot(call) => {
                if let Some(into) = &call.into {
                    self.assign_target(into);
                }
            }
            StmtKind::Workflow(workflow) => self.block(&workflow.body, inner),
            StmtKind::Step(step) => self.stmt(&step.body, inner),
            StmtKind::Parallel(parallel) => {
                for branch in &parallel.branches {
                    self.block(&branch.leading, inner);
                    self.block(&branch.body, inner);
                }
                self.block(&parallel.trailing, inner);
            }
            _ => {}
        }
    }

    fn procedure(&mut self, kind: &str, name: &Ident, span: Span, depth: usize) {
        // Point at the opening line only, not the whole body.
        let opener = Span::new(span.start, name.span.end.max(span.start));
        if depth > 0 {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateProcedure,
                    opener,
                    format!("{kind} `{}` is defined inside another block", name.name),
                )
                .with_hint(format!(
                    "move {kind} {} … END {kind} to the top level of the script",
                    name.name
                )),
            );
        }
        let key = name.key();
        if let Some(first) = self.facts.procedures.get(&key) {
            self.diagnostics.push(
                Diagnostic::new(
                    Code::DuplicateProcedure,
                    opener,
                    format!("`{}` is defined twice", name.name),
                )
                .with_label(first.span, "first defined here")
                .with_hint("rename or remove one of the two definitions"),
            );
        } else {
            self.facts.procedures.insert(
                key,
                Procedure {
                    name: name.name.clone(),
                    span: opener,
                },
            );
        }
    }

    fn assign(&mut self, ident: &Ident) {
        if !self.facts.assigned.contains(ident.name.as_str()) {
            self.facts.assigned.insert(ident.key());
        }
    }

    fn assign_implicit(&mut self, name: &str) {
        if !self.facts.assigned.contains(name) {
            self.facts.assigned.insert(name.to_owned());
        }
    }

    /// Marks the root variable of an assignment target (`x`, `x.a`, `x[0].b`).
    fn assign_target(&mut self, target: &Expr) {
        match &target.kind {
            ExprKind::Var(ident) => self.assign(ident),
            ExprKind::Field { object, .. } | ExprKind::Index { object, .. } => {
                self.assign_target(object)
            }
            ExprKind::Paren(inner) => self.assign_target(inner),
            _ => {}
        }
    }
}

//! The typed syntax tree of a BASIC script.
//!
//! The tree keeps what the formatter needs to give back a program that means
//! the same thing: whole-line comments, trailing comments, blank-line groups,
//! the raw text of string literals and parentheses. It does not keep spelling
//! variants that mean the same thing (`&&` and `AND`, `==` and `=`, brace
//! blocks and `END IF`): the formatter writes the canonical spelling.
//!
//! Every node that a diagnostic can point at carries a [`Span`]. Comments that
//! stand on the line of a block's opener or closer (`IF c THEN ' why`) are kept
//! by the nodes that own those lines; see the `*_comment` fields.

use serde::Serialize;

use crate::span::Span;

/// A whole script: the statements of one `.bas` file, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Program {
    pub body: Vec<Stmt>,
}

/// A name as written. Look-ups ignore case; [`Ident::key`] gives the folded form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Ident {
    /// The case-folded name used for look-ups (`Order_Amount` → `order_amount`).
    pub fn key(&self) -> String {
        self.name.to_lowercase()
    }
}

/// A comment's text, without its marker, and which marker it used.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comment {
    pub marker: CommentMarker,
    /// Everything after the marker up to the end of the line, trailing blanks removed.
    pub text: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CommentMarker {
    /// `' text`
    Quote,
    /// `REM text`
    Rem,
    /// `// text`
    Slashes,
    /// `# text` (only at the start of a line)
    Hash,
}

/// One statement, with the comments that end its lines, if any.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    /// The comment at the end of the statement's (first) line.
    pub comment: Option<Comment>,
    /// For block statements, the comment at the end of the closing line (`END IF ' done`).
    pub end_comment: Option<Comment>,
}

/// The statements of a block, in order.
pub type Block = Vec<Stmt>;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StmtKind {
    /// One or more blank lines (the formatter keeps one).
    Blank,
    /// A comment on a line of its own.
    Comment(Comment),

    // ---- Variables ----------------------------------------------------------
    /// `x = expr`, `LET x = expr`, `obj.field = expr`, `list[0] = expr`.
    Assign {
        target: Expr,
        value: Expr,
        has_let: bool,
    },
    /// `x = <keyword expression>`: `x = LLM "..."`, `x = BOT "b" "a"`, ...
    AssignKeyword {
        target: Expr,
        value: KeywordExpr,
        has_let: bool,
    },
    /// `WITH obj` … `END WITH`: each `field = value` line sets a field of `obj`.
    With { object: Ident, body: Block },

    // ---- Control flow -------------------------------------------------------
    /// `IF c THEN … ELSEIF c THEN … ELSE … END IF`, or the one-line form.
    If(If),
    /// `SELECT CASE x` / `SELECT x` / `SWITCH x` with `CASE` arms.
    Select(Select),
    /// `FOR EACH item IN list … NEXT [item]`.
    ForEach {
        var: Ident,
        iterable: Expr,
        body: Block,
    },
    /// `FOR i = a TO b [STEP s] … NEXT [i]`.
    ForTo {
        var: Ident,
        from: Expr,
        to: Expr,
        step: Option<Expr>,
        body: Block,
    },
    /// `WHILE c … WEND` / `END WHILE`, `DO WHILE c … LOOP`, `DO UNTIL c … LOOP`.
    While {
        cond: Expr,
        until: bool,
        body: Block,
    },
    /// `DO … LOOP [UNTIL c | WHILE c]`: the body runs at least once.
    DoLoop { body: Block, cond: Option<LoopCond> },
    /// `EXIT FOR`, `EXIT DO`, `EXIT WHILE`.
    Exit(LoopKind),
    /// `CONTINUE FOR`, `CONTINUE DO`, `CONTINUE WHILE`.
    Continue(LoopKind),
    /// `SUB name(a, b) … END SUB`.
    Sub(Procedure),
    /// `FUNCTION name(a) … END FUNCTION`.
    Function(Procedure),
    /// `CALL name(args)`, or a bare `name(args)` of a procedure.
    Call { name: Ident, args: Vec<Expr> },
    /// `CALL "other.bas"`: runs another script of the same package, sharing variables.
    CallScript { path: Expr },
    /// `label:`
    Label(Ident),
    /// `GOTO label`
    Goto(Ident),
    /// `RETURN [expr]`
    Return(Option<Expr>),
    /// `ON ERROR GOTO label`, `ON ERROR RESUME NEXT`, `ON ERROR GOTO 0`.
    OnError(OnError),

    // ---- Conversation -------------------------------------------------------
    /// `TALK expr` or `TALK TO who, expr`.
    Talk { to: Option<Expr>, message: Expr },
    /// `BEGIN TALK … END TALK`: each line is sent as written (with `${}` interpolation).
    TalkBlock { lines: Vec<StrLit> },
    /// `BEGIN SYSTEM PROMPT … END SYSTEM PROMPT`: the lines are the prompt, as written.
    SystemPrompt { lines: Vec<String> },
    /// `PRINT expr`
    Print(Expr),
    /// `HEAR x [AS TYPE | AS "a,b,c"]`.
    Hear {
        var: Expr,
        as_type: Option<HearType>,
    },
    /// `WAIT seconds`
    Wait(Expr),

    // ---- Memory -------------------------------------------------------------
    /// `SET BOT MEMORY k, v`
    SetBotMemory { key: Expr, value: Expr },
    /// `REMEMBER k, v [, "duration"]`
    Remember {
        key: Expr,
        value: Expr,
        duration: Option<Expr>,
    },
    /// `BOT SHARE MEMORY "k" WITH "other-bot"`
    BotShareMemory { key: Expr, with_bot: Expr },
    /// `BOT SYNC MEMORY FROM "other-bot"`
    BotSyncMemory { from_bot: Expr },

    // ---- HTTP, mail ---------------------------------------------------------
    /// `POST url, data`, `PUT url, data`, `PATCH url, data`, `DELETE HTTP url` as statements.
    Http {
        method: HttpMethod,
        url: Expr,
        body: Option<Expr>,
    },
    /// `SET HEADER k, v`
    SetHeader { name: Expr, value: Expr },
    /// `CLEAR HEADERS`
    ClearHeaders,
    /// `SEND MAIL to, subject, body`
    SendMail { to: Expr, subject: Expr, body: Expr },

    // ---- Conversation setup and tool headers --------------------------------
    /// `USE KB`, `USE TOOL`, `ADD TOOL`, `CLEAR TOOLS`, `SET CONTEXT`, `ADD SUGGESTION`,
    /// `CLEAR SUGGESTIONS`, `DESCRIPTION`: accepted and recorded.
    Setup { kind: SetupKind, args: Vec<Expr> },
    /// `PARAM name AS TYPE [LIKE "ex"] DESCRIPTION "..."`
    Param(Param),
    /// `SET SCHEDULE "cron or phrase"` (header).
    SetSchedule(Expr),
    /// `TRIGGER ON EVENT "name"` (header).
    TriggerOnEvent(Expr),
    /// `ADD BOT "b" [WITH TRIGGER|TOOLS|SCHEDULE "..."]`
    AddBot {
        bot: Expr,
        with: Option<(AddBotWith, Expr)>,
    },
    /// `REMOVE BOT "b"`
    RemoveBot(Expr),
    /// `DELEGATE TO "b"`
    DelegateTo(Expr),

    // ---- Orchestration ------------------------------------------------------
    /// `ORCHESTRATE WORKFLOW "name" … END WORKFLOW` (the end is optional at end of file).
    Workflow(Workflow),
    /// `STEP n: <statement>`
    Step(Step),
    /// `BOT "name" "action" [INTO v] [WITH expr] [TIMEOUT s] [RETRY n] [CACHE s]`.
    Bot(BotCall),
    /// `HUMAN APPROVAL FROM ...` with its clauses.
    HumanApproval(Approval),
    /// `PARALLEL … BRANCH … END PARALLEL [WAIT ANY | WAIT n]`.
    Parallel(Parallel),
    /// `ON EVENT "name" DO … END ON`
    OnEvent { name: Expr, body: Block },
    /// `PUBLISH EVENT "name" [WITH data] [FOR key] [TO "bot"]`
    PublishEvent(PublishEvent),
    /// `WAIT FOR EVENT ...` as a statement: the event goes to the variable `event`.
    WaitForEvent(WaitForEvent),
    /// `DELAY seconds` or `DELAY "2h"`.
    Delay(Expr),

    // ---- Everything else ----------------------------------------------------
    /// A statement that is just an expression, such as a call of a known function.
    Expr(Expr),
    /// A keyword statement botflow does not implement (`FIND`, `SAVE`, `CREATE_SITE` ...).
    /// It parses; the checker warns; running it fails that statement with a clear error.
    Generic(Generic),
    /// A line the parser could not make sense of. A diagnostic always accompanies it.
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct If {
    /// `IF` and each `ELSEIF` / `ELSE IF`, in order; never empty.
    pub arms: Vec<IfArm>,
    pub else_body: Option<Block>,
    /// Comment on the `ELSE` line.
    pub else_comment: Option<Comment>,
    /// Written on one line (`IF c THEN stmt [ELSE stmt]`); kept so the formatter keeps it.
    pub inline: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IfArm {
    pub cond: Expr,
    pub body: Block,
    /// Comment on an `ELSEIF` line (the `IF` line's comment is the statement's).
    pub comment: Option<Comment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Select {
    pub subject: Expr,
    pub arms: Vec<CaseArm>,
    /// `CASE ELSE` / `DEFAULT`.
    pub else_body: Option<Block>,
    /// Written as `SWITCH … END SWITCH` rather than `SELECT CASE … END SELECT`.
    pub switch: bool,
    /// Comments and blank lines between the `SELECT` line and the first `CASE`.
    pub leading: Block,
    /// Comment on the `CASE ELSE` / `DEFAULT` line.
    pub else_comment: Option<Comment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseArm {
    /// `CASE 1, 2` has two patterns; `CASE IS > 5` one.
    pub patterns: Vec<CasePattern>,
    pub body: Block,
    /// Comment on the `CASE` line itself.
    pub comment: Option<Comment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum CasePattern {
    /// `CASE v`: equal to `v` (numbers compare as numbers).
    Value(Expr),
    /// `CASE a TO b`: between `a` and `b`, inclusive.
    Range(Expr, Expr),
    /// `CASE IS > 5`
    Is(BinaryOp, Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum LoopKind {
    For,
    Do,
    While,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LoopCond {
    /// `LOOP UNTIL c` (true) or `LOOP WHILE c` (false).
    pub until: bool,
    pub cond: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Procedure {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Block,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum OnError {
    Goto(Ident),
    /// `ON ERROR GOTO 0`: errors are no longer caught.
    GotoZero,
    ResumeNext,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum HearType {
    /// `AS INTEGER`, `AS EMAIL`, ... (the type name, upper-cased).
    Named(String),
    /// `AS "a,b,c"`: one of the listed choices.
    Choices(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum SetupKind {
    UseKb,
    UseTool,
    AddTool,
    ClearTools,
    SetContext,
    AddSuggestion,
    ClearSuggestions,
    Description,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Param {
    pub name: Ident,
    /// The type name as written after `AS`, upper-cased (`STRING`, `INTEGER`, `DATE` ...).
    pub type_name: Option<String>,
    pub example: Option<Expr>,
    pub description: Option<Expr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum AddBotWith {
    Trigger,
    Tools,
    Schedule,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Workflow {
    pub name: Expr,
    pub body: Block,
    /// False when the file ends before `END WORKFLOW` (allowed).
    pub closed: bool,
}

/// `STEP n: <body>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    /// The step number as written (`1`, `2.1`, `3a`): a label for people.
    pub number: String,
    pub number_span: Span,
    pub body: Box<Stmt>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BotCall {
    pub bot: Expr,
    pub action: Expr,
    /// `INTO var`: the answer goes there and nothing is merged.
    pub into: Option<Expr>,
    /// `WITH expr`: the explicit input; otherwise the run's variables.
    pub with: Option<Expr>,
    /// `TIMEOUT s` for one attempt.
    pub timeout: Option<Expr>,
    /// `RETRY n` attempts after the first.
    pub retry: Option<Expr>,
    /// `CACHE s`: reuse a recorded answer for this long.
    pub cache: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Approval {
    pub from: Approvers,
    /// The clauses, in the order written, each with its own line comment.
    pub clauses: Vec<Clause>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Approvers {
    /// `FROM "a@x", "b@x"`
    People(Vec<Expr>),
    /// `FROM GROUP "finance"`
    Group(Expr),
}

/// A clause of `HUMAN APPROVAL` or `WAIT FOR EVENT`, on the statement's line or a following one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clause {
    pub kind: ClauseKind,
    pub span: Span,
    /// Whether the clause starts its own line (the formatter keeps it there).
    pub own_line: bool,
    /// The comment at the end of the clause's line, when the clause ends that line.
    pub comment: Option<Comment>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ClauseKind {
    /// `TIMEOUT s`
    Timeout(Expr),
    /// `ON TIMEOUT: action`
    OnTimeout(TimeoutAction),
    /// `MESSAGE expr`
    Message(Expr),
    /// `REQUIRE n`
    Require(Expr),
    /// `VIA "email" | "webhook" | "log"`
    Via(Expr),
    /// `ON DENY: CONTINUE`
    OnDenyContinue,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum TimeoutAction {
    /// `ESCALATE TO "who"`
    Escalate(Expr),
    /// `REJECT [words]`: the words are kept as the reason (`REJECT ORDER`).
    Reject(Option<String>),
    /// `APPROVE [WITH WARNING]`
    Approve { warning: bool },
    /// `FAIL` (waits only)
    Fail,
    /// `CONTINUE` (waits only; the default)
    Continue,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parallel {
    pub branches: Vec<Branch>,
    pub join: Join,
    /// Comments and blank lines after the last branch, before `END PARALLEL`.
    pub trailing: Block,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Branch {
    /// Comments and blank lines before the `BRANCH` line.
    pub leading: Block,
    /// `A`, `B`, ... as written.
    pub label: Ident,
    pub body: Block,
    /// One statement on the `BRANCH` line (`BRANCH A: BOT ...`).
    pub inline: bool,
    /// Closed by an explicit `END BRANCH`.
    pub explicit_end: bool,
    /// Comment on the `BRANCH` line (block branches only).
    pub comment: Option<Comment>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Join {
    /// `END PARALLEL`: every branch.
    All,
    /// `END PARALLEL WAIT ANY`
    Any,
    /// `END PARALLEL WAIT n`
    Count(Expr),
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishEvent {
    pub name: Expr,
    pub data: Option<Expr>,
    pub key: Option<Expr>,
    pub to: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WaitForEvent {
    pub name: Expr,
    /// `FOR key`
    pub key: Option<Expr>,
    /// `TIMEOUT` and `ON TIMEOUT:` clauses.
    pub clauses: Vec<Clause>,
}

/// A statement made of a keyword botflow does not know and its arguments.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Generic {
    /// The leading keyword words, upper-cased and joined by one space (`FIND`, `WEBSITE OF`).
    pub keyword: String,
    pub keyword_span: Span,
    /// The rest of the line, parsed as comma-separated expressions when possible.
    pub args: Vec<Expr>,
    /// The rest of the line as written, when it is not a list of expressions.
    pub rest: Option<String>,
}

impl Generic {
    /// The procedure a line like `greet "Bob"` would call, case-folded: the
    /// keyword when it is one word followed by a list of arguments (VB's call
    /// without `CALL` or parentheses). Whether such a procedure exists is the
    /// caller's to decide: the parser cannot know procedures defined below.
    pub fn procedure_call(&self) -> Option<String> {
        (self.rest.is_none() && !self.keyword.contains(' ')).then(|| self.keyword.to_lowercase())
    }
}

/// The right-hand side of `x = <keyword expression>`.
// One per assignment statement, never in bulk: boxing the large variants would
// only add indirection to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum KeywordExpr {
    /// `LLM expr [WITH OPTIMIZE FOR "speed"] [WITH MAX_COST n]`
    Llm {
        prompt: Expr,
        optimize_for: Option<Expr>,
        max_cost: Option<Expr>,
    },
    /// `GET url` (or a package file)
    HttpGet { url: Expr },
    /// `POST url, data` and friends used for their answer.
    Http {
        method: HttpMethod,
        url: Expr,
        body: Option<Expr>,
    },
    /// `GET BOT MEMORY "k"` or `GET BOT MEMORY("k")`
    GetBotMemory { key: Expr },
    /// `RECALL k`
    Recall { key: Expr },
    /// `BOT "name" "action" ...`
    Bot(BotCall),
    /// `WAIT FOR EVENT ...`
    WaitForEvent(WaitForEvent),
    /// `HEAR [AS TYPE]`
    Hear { as_type: Option<HearType> },
    /// `LIST BOTS`
    ListBots,
    /// An unknown keyword used for its value (`x = FIND "t", "f"`).
    Generic(Generic),
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ExprKind {
    Null,
    Bool(bool),
    /// An integer literal that fits in an `i64`.
    Int(i64),
    /// A decimal literal (or an integer too large for `i64`).
    Float(f64),
    Str(StrLit),
    List(Vec<Expr>),
    Object(Vec<ObjectEntry>),
    /// A variable (or a bare word the script uses as one).
    Var(Ident),
    /// `a.b`
    Field {
        object: Box<Expr>,
        field: Ident,
    },
    /// `a[i]`
    Index {
        object: Box<Expr>,
        index: Box<Expr>,
    },
    /// `NAME(args)`: a built-in, a `FUNCTION` of the script, or an unknown function.
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x IN list`, `x NOT IN list`
    In {
        value: Box<Expr>,
        list: Box<Expr>,
        negated: bool,
    },
    /// `( expr )`, kept so the formatter writes the parentheses back.
    Paren(Box<Expr>),
    /// Stands where an expression was expected but none could be parsed.
    Error,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ObjectEntry {
    pub key: ObjectKey,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ObjectKey {
    /// `{name: v}`
    Bare(String),
    /// `{"name": v}` (the literal as written, and its value)
    Quoted(StrLit),
}

impl ObjectKey {
    /// The key's value.
    pub fn name(&self) -> String {
        match self {
            ObjectKey::Bare(name) => name.clone(),
            ObjectKey::Quoted(lit) => lit.plain_text().unwrap_or_default(),
        }
    }
}

/// A string literal: its source text between the quotes, and its decoded parts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StrLit {
    /// The text between the quotes exactly as written (the formatter writes it back untouched).
    pub raw: String,
    pub parts: Vec<StrPart>,
}

impl StrLit {
    /// The literal's value when it has no `${}` interpolation.
    pub fn plain_text(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                StrPart::Text(t) => text.push_str(t),
                StrPart::Interp(_) => return None,
            }
        }
        Some(text)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum StrPart {
    /// Text with escapes already decoded.
    Text(String),
    /// `${expr}`
    Interp(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    /// `&`: always string concatenation.
    Concat,
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
    /// `??`
    Coalesce,
}

impl BinaryOp {
    /// The canonical spelling the formatter writes.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "MOD",
            BinaryOp::Pow => "^",
            BinaryOp::Concat => "&",
            BinaryOp::Eq => "=",
            BinaryOp::Ne => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Coalesce => "??",
        }
    }

    /// Binding power: higher binds tighter. `IN` sits with the comparisons.
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Coalesce => 1,
            BinaryOp::Or => 2,
            BinaryOp::And => 3,
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Gt
            | BinaryOp::Le
            | BinaryOp::Ge => 5,
            BinaryOp::Concat => 6,
            BinaryOp::Add | BinaryOp::Sub => 7,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 8,
            BinaryOp::Pow => 10,
        }
    }
}

/// Precedence of `NOT` (between `AND` and the comparisons).
pub const NOT_PRECEDENCE: u8 = 4;
/// Precedence of `IN` / `NOT IN`.
pub const IN_PRECEDENCE: u8 = 5;
/// Precedence of unary minus (binds tighter than `*`, looser than `^`).
pub const NEG_PRECEDENCE: u8 = 9;

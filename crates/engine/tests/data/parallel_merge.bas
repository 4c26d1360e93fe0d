' A PARALLEL join merges only what each branch wrote since the fork, in
' label order: a branch that never touched a variable leaves an earlier
' branch's new value (or an event handler's) alone; when two branches
' write it, the later label wins, even if it wrote the fork-time value.
' Handlers likewise hand back only what they wrote. The event is
' delivered while both branches of STEP 1 wait.
' deliver: {"name": "ping"}
' bot a "one" -> {"from_bot": "a"}
' bot b "two" -> {"other": "b"}
' bot helper "assist" -> {"assisted": true}
' bot main "next" -> {"next": true}
' bot fast "go" -> {"fast": true}
' bot never "go" -> hold
x = 0
from_bot = "before"
h = "before"
k = "before"
both = "before"
same = "before"
ON EVENT "ping" DO
  h = "handler"
END ON
ON EVENT "ping" DO
  DELAY 1
  BOT "helper" "assist"
  h2 = "second handler"
END ON
STEP 1: PARALLEL
  BRANCH A:
    x = 1
    both = "A"
    same = "A"
    BOT "a" "one"
  END BRANCH
  BRANCH B:
    y = 2
    both = "B"
    same = "before"
    BOT "b" "two"
  END BRANCH
END PARALLEL
TALK "x = " & x & ", y = " & y & ", from_bot = " & from_bot & ", other = " & other
TALK "both = " & both & ", same = " & same & ", h = " & h
k = "main"
STEP 2: BOT "main" "next"
TALK "after the handlers: k = " & k & ", h = " & h & ", h2 = " & h2 & ", assisted = " & assisted

' Nested: the inner join's merges count as writes of the outer branch.
n = 0
m = 0
STEP 3: PARALLEL
  BRANCH A:
    PARALLEL
      BRANCH A: n = 1
      BRANCH B: m = 1
    END PARALLEL
  END BRANCH
  BRANCH B: untouched = TRUE
END PARALLEL
TALK "nested: n = " & n & ", m = " & m

' WAIT ANY: the cancelled branch's writes are dropped.
c = "before"
d = "before"
STEP 4: PARALLEL
  BRANCH A:
    d = "A"
    BOT "fast" "go"
  END BRANCH
  BRANCH B:
    c = "B"
    BOT "never" "go"
  END BRANCH
END PARALLEL WAIT ANY
TALK "wait any: c = " & c & ", d = " & d

' In a procedure, a branch that did not touch a local leaves it alone.
CALL locals_in_branches()

SUB locals_in_branches()
  loc = 0
  PARALLEL
    BRANCH A: loc = 1
    BRANCH B: other_local = 2
  END PARALLEL
  TALK "locals: loc = " & loc & ", other_local = " & other_local
END SUB

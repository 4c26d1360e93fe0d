' IF / ELSEIF / ELSE, one-line IF, SELECT CASE with IS and TO, SWITCH.
' input: {"score": "150", "kind": "b", "n": 7}
IF score > 100 THEN
  level = "high"
ELSEIF score > 50 THEN
  level = "mid"
ELSE
  level = "low"
END IF
IF n = 7 THEN lucky = TRUE ELSE lucky = FALSE
IF n < 0 THEN TALK "negative"
IF score < 100 THEN
  TALK "not reached"
ELSE IF kind = "b" THEN
  TALK "else if works"
END IF
FOR EACH v IN [1, 5, 12, 30, "x", 3]
  SELECT CASE v
    CASE 1, 2
      TALK v & ": one or two"
    CASE 3 TO 10
      TALK v & ": three to ten"
    CASE IS > 20
      TALK v & ": more than twenty"
    CASE "x"
      TALK v & ": the letter"
    CASE ELSE
      TALK v & ": something else"
  END SELECT
NEXT v
SWITCH kind
  CASE "a"
    picked = "A"
  CASE "b"
    picked = "B"
  DEFAULT
    picked = "?"
END SWITCH
SELECT CASE "nothing"
  CASE "a"
    TALK "no"
END SELECT

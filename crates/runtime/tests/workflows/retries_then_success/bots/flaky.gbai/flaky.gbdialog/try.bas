' Fails on the first two attempts (`attempt` is set by the runtime).
IF attempt < 3 THEN
  broken = 1 / 0
END IF
RETURN {"attempt_seen": attempt}

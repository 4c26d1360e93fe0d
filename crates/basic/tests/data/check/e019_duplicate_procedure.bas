SUB notify(who)
  TALK who
END SUB

FUNCTION Notify(who)
  RETURN who
END FUNCTION

IF TRUE THEN
  SUB inner()
    TALK "nested"
  END SUB
END IF

CALL notify("ann")

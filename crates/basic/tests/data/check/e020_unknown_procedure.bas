SUB notify_manager(who)
  TALK who
END SUB

CALL notify_managr("ann")
CALL send_report()
CALL LEN("x")
CALL NOTIFY_MANAGER("case does not matter")

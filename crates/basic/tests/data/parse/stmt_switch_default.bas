HEAR plan
SWITCH plan
  CASE "free"
    limit = 10
  CASE "pro", "team"
    limit = 1000
  DEFAULT
    limit = 0
END SWITCH
TALK "Your limit is " & limit

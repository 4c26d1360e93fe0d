select case score
case 1, 2
talk "low"
case 3 to 5
talk "mid"
case is > 5
talk "high"
case "x"
case else
talk "unknown"
end select
SELECT kind
  CASE "a"
    PRINT "a"
END SELECT
switch mode
case "fast"
  speed = 10
case "slow"
  speed = 1
default
  speed = 5
end switch

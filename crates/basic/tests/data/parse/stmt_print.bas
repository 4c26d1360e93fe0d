PRINT "starting"
PRINT 1 + 2
PRINT "now: " & NOW()
print [1, 2, 3]

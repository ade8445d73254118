from stream.compiled import check_fresh

check_fresh()

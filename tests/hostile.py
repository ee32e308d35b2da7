"""Hostile text the tests feed in as manager names, jurisdictions and reasons: one definition
of each, shared by every test that checks such text cannot drive a terminal, forge a line,
run as a spreadsheet formula or as HTML (the CLI, the profile, change descriptions, digests).
"""

#: Every kind of terminal control in a name: newline, ANSI colour, carriage return and a
#: right-to-left override (last, or followed by text it would reverse).
CONTROLS = "恶意\n公司\x1b[31m红色\r\u202e"
CONTROL_NAME = CONTROLS + "反转"
#: A name that would print a forged alert line of its own.
FORGED_LINE = "Evil\nFAKE ALERT red 100"
#: A name that would forge a digest entry (tier, name, register number, place) and then
#: overwrite its own line.
FORGED_ENTRY = "好资产管理有限公司\n[红色] 伪造资产管理有限公司 (P9999999, 广东)\r覆盖"
#: ANSI erase-line and carriage return: rewrites what the terminal showed.
OVERWRITE = "\x1b[2K\rinnocent"
#: A right-to-left override: reorders what follows.
BIDI = "\u202eevil reversed"
#: HTML in a name.
SCRIPT_NAME = "<script>alert('x')</script>资产管理有限公司"
#: Spreadsheet formulas: a prefix other than ``=`` (``@``), and a DDE command ending a line.
FORMULA_NAME = "@SUM(1+1)*cmd|' /C calc'!A0 广州资产管理有限公司"
FORMULA_CELL = "=cmd|' /C calc'!A0\n"

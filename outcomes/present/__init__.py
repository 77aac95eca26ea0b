"""Stage 5, presentation: charts (``plots``), tables for people (``tables``), the HTML report
(``report``) and the notebooks' shared setup (``notebook``).

Nothing here computes a statistic: it draws and formats the result tables of
:mod:`outcomes.analyses` and :mod:`outcomes.audit`. The modules are imported
by name (``from outcomes.present import plots``) so that the command line
does not load matplotlib unless it draws.
"""

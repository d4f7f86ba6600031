"""Monthly operating-analysis report (月度经营分析) of one city: data, HTML, Excel and PDF."""

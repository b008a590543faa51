"""Pages for people: a policy rendered for officers (``render``), and the shared
pieces of civicscore's static reports (blocks written as HTML or Markdown,
escaping, inline SVG charts, a policy's layers). ``civicscore impact`` builds its
report from the same pieces (:mod:`civicscore.impact`)."""

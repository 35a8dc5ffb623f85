"""The safeguarding action tracker: actions as Tasks, raised by a requester and held by
an owner; partner contacts as Communications; the tracker's queries and weekly huddle."""

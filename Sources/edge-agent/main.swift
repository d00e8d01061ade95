await EdgeAgent.main()

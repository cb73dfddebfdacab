CREATE DATABASE courier_worker;
